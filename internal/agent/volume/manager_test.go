package volume

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"mini.dev/mini/internal/agent/envvars"
	"mini.dev/mini/internal/runtime"
)

const testUID = types.UID("0a1b2c3d-0000-4000-8000-000000000001")

func ptr[T any](v T) *T { return &v }

// newTestManager returns a manager over a fake clientset whose token
// requests answer "token-<n>", and tears its pods down after the test.
func newTestManager(t testing.TB, objs ...k8sruntime.Object) (*Manager, *fake.Clientset, *atomic.Int32) {
	t.Helper()
	client := fake.NewClientset(objs...)
	var tokensIssued atomic.Int32
	var m *Manager // the reactor reads the manager's clock
	client.PrependReactor("create", "serviceaccounts", func(a k8stesting.Action) (bool, k8sruntime.Object, error) {
		if a.GetSubresource() != "token" {
			return false, nil, nil
		}
		req := a.(k8stesting.CreateAction).GetObject().(*authenticationv1.TokenRequest)
		if req.Spec.BoundObjectRef == nil || req.Spec.BoundObjectRef.Kind != "Pod" {
			return true, nil, fmt.Errorf("token not bound to a pod")
		}
		n := tokensIssued.Add(1)
		out := req.DeepCopy()
		out.Status = authenticationv1.TokenRequestStatus{
			Token:               fmt.Sprintf("token-%d-%s-%v", n, a.(k8stesting.CreateAction).GetNamespace(), req.Spec.Audiences),
			ExpirationTimestamp: metav1.NewTime(m.tokens.now().Add(time.Duration(*req.Spec.ExpirationSeconds) * time.Second)),
		}
		return true, out, nil
	})
	root := t.TempDir()
	var err error
	m, err = New(Config{Client: client, Getter: envvars.NewCachedGetter(client, 10*time.Millisecond), RootDir: root,
		NodeName: "n1", Node: func() envvars.Node { return envvars.Node{Name: "n1", HostIP: "192.168.1.5"} }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		uids, _ := m.PodUIDs()
		for _, uid := range uids {
			if err := m.TearDown(uid); err != nil {
				t.Errorf("teardown: %v", err)
			}
		}
		_ = unmountUnder(root) // whatever a failed test left mounted
	})
	return m, client, &tokensIssued
}

func testObjects() []k8sruntime.Object {
	return []k8sruntime.Object{
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "cm"},
			Data: map[string]string{"a": "1", "b": "2"}, BinaryData: map[string][]byte{"bin": {0, 1}}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "kube-root-ca.crt"},
			Data: map[string]string{"ca.crt": "CERT"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "sec"},
			Data: map[string][]byte{"user": []byte("admin"), "pass": []byte("pw")}},
	}
}

func testPod(volumes []corev1.Volume, mounts []corev1.VolumeMount) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web-0", UID: testUID, Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{NodeName: "n1", ServiceAccountName: "sa", Volumes: volumes,
			InitContainers: []corev1.Container{{Name: "init", VolumeMounts: mounts}},
			Containers: []corev1.Container{{Name: "c", VolumeMounts: mounts,
				Env:       []corev1.EnvVar{{Name: "POD", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}},
				Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}}}}},
		Status: corev1.PodStatus{PodIPs: []corev1.PodIP{{IP: "10.42.0.9"}}},
	}
}

func cmVolume(name string, optional bool, items ...corev1.KeyToPath) corev1.VolumeSource {
	return corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: name}, Items: items, Optional: &optional}}
}

// volumeFiles reads a volume's visible files (through the symlinks).
func volumeFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "..") {
			continue
		}
		real, err := filepath.EvalSymlinks(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		err = filepath.Walk(real, func(p string, info os.FileInfo, err error) error {
			if err != nil || info.IsDir() {
				return err
			}
			data, err := os.ReadFile(p)
			rel, _ := filepath.Rel(real, p)
			out[filepath.Join(e.Name(), rel)] = string(data)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func fileMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Mode()
}

func TestSetUpVolumes(t *testing.T) {
	tests := []struct {
		name    string
		source  corev1.VolumeSource
		plugin  string
		want    map[string]string
		modes   map[string]os.FileMode
		wantErr string
	}{
		{name: "configmap all keys", source: cmVolume("cm", false), plugin: configMapPlugin,
			want: map[string]string{"a": "1", "b": "2", "bin": "\x00\x01"}, modes: map[string]os.FileMode{"a": 0o644}},
		{name: "configmap items and modes", plugin: configMapPlugin,
			source: cmVolume("cm", false, corev1.KeyToPath{Key: "a", Path: "dir/a.txt", Mode: ptr(int32(0o600))}, corev1.KeyToPath{Key: "b", Path: "b.txt"}),
			want:   map[string]string{"dir/a.txt": "1", "b.txt": "2"}, modes: map[string]os.FileMode{"dir/a.txt": 0o600, "b.txt": 0o644}},
		{name: "configmap missing", source: cmVolume("nope", false),
			wantErr: `MountVolume.SetUp failed for volume "v" : configmap "nope" not found`},
		{name: "configmap optional missing", source: cmVolume("nope", true), plugin: configMapPlugin, want: map[string]string{}},
		{name: "configmap missing key", source: cmVolume("cm", false, corev1.KeyToPath{Key: "zz", Path: "zz"}),
			wantErr: `MountVolume.SetUp failed for volume "v" : configmap references non-existent config key: zz`},
		{name: "secret default mode", plugin: secretPlugin,
			source: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "sec", DefaultMode: ptr(int32(0o400))}},
			want:   map[string]string{"user": "admin", "pass": "pw"}, modes: map[string]os.FileMode{"user": 0o400}},
		{name: "secret missing", source: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "nope"}},
			wantErr: `MountVolume.SetUp failed for volume "v" : secret "nope" not found`},
		{name: "secret missing key", source: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "sec", Items: []corev1.KeyToPath{{Key: "k", Path: "k"}}}},
			wantErr: "references non-existent secret key: k"},
		{name: "downward api", plugin: downwardAPIPlugin,
			source: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{
				{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}},
				{Path: "name", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}},
				{Path: "mem", ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "c", Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}},
			}}},
			want: map[string]string{"labels": `app="web"`, "name": "web-0", "mem": "64"}},
		{name: "projected service account", plugin: projectedPlugin,
			source: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptr(int64(3607))}},
				{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"}, Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
				{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}}}},
			}}},
			want: map[string]string{"token": "token-1-ns-[]", "ca.crt": "CERT", "namespace": "ns"}},
		{name: "projected missing configmap", source: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "gone"}}}}}},
			wantErr: `MountVolume.SetUp failed for volume "v" : configmap "gone" not found`},
		{name: "hostPath type", source: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/dev/null", Type: ptr(corev1.HostPathDirectory)}},
			wantErr: `MountVolume.SetUp failed for volume "v" : hostPath type check failed: /dev/null is not a directory`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, _, _ := newTestManager(t, testObjects()...)
			pod := testPod([]corev1.Volume{{Name: "v", VolumeSource: tt.source}}, []corev1.VolumeMount{{Name: "v", MountPath: "/data"}})
			mounts, err := m.SetUp(context.Background(), pod)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			dir := m.volumeDir(pod.UID, tt.plugin, "v")
			for _, c := range []string{"init", "c"} {
				want := []runtime.Mount{{ContainerPath: "/data", HostPath: dir, ReadOnly: true}}
				if fmt.Sprint(mounts[c]) != fmt.Sprint(want) {
					t.Errorf("mounts[%s] = %v, want %v", c, mounts[c], want)
				}
			}
			got := volumeFiles(t, dir)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("files = %v, want %v", got, tt.want)
			}
			for p, mode := range tt.modes {
				if got := fileMode(t, filepath.Join(dir, p)).Perm(); got != mode {
					t.Errorf("%s mode %o, want %o", p, got, mode)
				}
			}
			// Idempotent: a second SetUp changes nothing.
			before, _ := os.Readlink(filepath.Join(dir, dataDirName))
			if _, err := m.SetUp(context.Background(), pod); err != nil {
				t.Fatal(err)
			}
			if after, _ := os.Readlink(filepath.Join(dir, dataDirName)); after != before {
				t.Errorf("second SetUp rewrote the volume: %s -> %s", before, after)
			}
		})
	}
}

func TestSetUpMounts(t *testing.T) {
	m, _, _ := newTestManager(t, testObjects()...)
	hostDir := t.TempDir()
	volumes := []corev1.Volume{
		{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: hostDir}}},
		{Name: "cfg", VolumeSource: cmVolume("cm", false)},
	}
	pod := testPod(volumes, nil)
	pod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{
		{Name: "scratch", MountPath: "/scratch"},
		{Name: "scratch", MountPath: "/logs", SubPathExpr: "logs/$(POD)"},
		{Name: "host", MountPath: "/host", ReadOnly: true},
		{Name: "cfg", MountPath: "/etc/a", SubPath: "a"},
	}
	pod.Spec.InitContainers[0].VolumeMounts = []corev1.VolumeMount{{Name: "scratch", MountPath: "/work", SubPath: "init"}}
	mounts, err := m.SetUp(context.Background(), pod)
	if err != nil {
		t.Fatal(err)
	}
	scratch := m.volumeDir(pod.UID, emptyDirPlugin, "scratch")
	cfgDir := m.volumeDir(pod.UID, configMapPlugin, "cfg")
	ts, _ := os.Readlink(filepath.Join(cfgDir, dataDirName))
	// A subPath is bind-mounted under the pod directory where mounting is
	// allowed (subpath.go), else given as the path opened.
	sub := func(volume, container string, index int, resolved string) string {
		if os.Geteuid() == 0 {
			return m.subPathTarget(pod.UID, volume, container, index)
		}
		return resolved
	}
	want := map[string][]runtime.Mount{
		"init": {{ContainerPath: "/work", HostPath: sub("scratch", "init", 0, filepath.Join(scratch, "init"))}},
		"c": {
			{ContainerPath: "/scratch", HostPath: scratch},
			{ContainerPath: "/logs", HostPath: sub("scratch", "c", 1, filepath.Join(scratch, "logs/web-0"))},
			{ContainerPath: "/host", HostPath: hostDir, ReadOnly: true},
			{ContainerPath: "/etc/a", HostPath: sub("cfg", "c", 3, filepath.Join(cfgDir, ts, "a")), ReadOnly: true},
		},
	}
	if fmt.Sprint(mounts) != fmt.Sprint(want) {
		t.Fatalf("mounts =\n%v\nwant\n%v", mounts, want)
	}
	if mode := fileMode(t, scratch).Perm(); mode != 0o777 {
		t.Errorf("emptyDir mode %o, want 777", mode)
	}
	if info, err := os.Stat(filepath.Join(scratch, "logs/web-0")); err != nil || !info.IsDir() {
		t.Errorf("subPath directory not made: %v", err)
	}

	bad := []struct {
		mount   corev1.VolumeMount
		wantErr string
	}{
		{corev1.VolumeMount{Name: "nope", MountPath: "/x"}, `cannot find volume "nope" to mount into container "c"`},
		{corev1.VolumeMount{Name: "scratch", MountPath: "/x", SubPath: "../../etc"}, "must not contain '..'"},
		{corev1.VolumeMount{Name: "scratch", MountPath: "/x", SubPath: "/etc"}, "must not be an absolute path"},
		{corev1.VolumeMount{Name: "scratch", MountPath: "/x", SubPathExpr: "$(UNSET)"}, "missing value for UNSET"},
	}
	for _, b := range bad {
		p := testPod(volumes, nil)
		p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{b.mount}
		if _, err := m.SetUp(context.Background(), p); err == nil || !strings.Contains(err.Error(), b.wantErr) {
			t.Errorf("%+v: error = %v, want %q", b.mount, err, b.wantErr)
		}
	}

	// A symlink inside the volume cannot lead a subPath out of it: a
	// subPath through one that points outside is refused, as kubelet does
	// (subpath_test.go tries more).
	if err := os.Symlink("/etc", filepath.Join(scratch, "escape")); err != nil {
		t.Fatal(err)
	}
	p := testPod(volumes, nil)
	p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "scratch", MountPath: "/x", SubPath: "escape/passwd"}}
	if got, err := m.SetUp(context.Background(), p); err == nil {
		t.Errorf("subPath through a symlink out of the volume gave %v, want an error", got)
	}
}

// TestSourceUpdate changes a ConfigMap and waits for the volume's file
// and the OnChange call, as a pod would see an update.
func TestSourceUpdate(t *testing.T) {
	m, client, _ := newTestManager(t, testObjects()...)
	changed := make(chan types.UID, 10)
	m.cfg.OnChange = func(uid types.UID) { changed <- uid }
	m.cfg.Resync = 20 * time.Millisecond
	pod := testPod([]corev1.Volume{{Name: "v", VolumeSource: cmVolume("cm", false)}}, nil)
	if _, err := m.SetUp(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	start := time.Now()
	cm := testObjects()[0].(*corev1.ConfigMap)
	cm.Data = map[string]string{"a": "changed"}
	if _, err := client.CoreV1().ConfigMaps("ns").Update(context.Background(), cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case uid := <-changed:
		if uid != pod.UID {
			t.Fatalf("OnChange(%s), want %s", uid, pod.UID)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no OnChange within 10 s")
	}
	t.Logf("update reached the files in %v", time.Since(start))
	dir := m.volumeDir(pod.UID, configMapPlugin, "v")
	if got := volumeFiles(t, dir); fmt.Sprint(got) != fmt.Sprint(map[string]string{"a": "changed", "bin": "\x00\x01"}) {
		t.Fatalf("files = %v", got)
	}
	// Deleting the source keeps the last content, as kubelet does.
	if err := client.CoreV1().ConfigMaps("ns").Delete(context.Background(), "cm", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	m.refreshAll(context.Background())
	if got := volumeFiles(t, dir); got["a"] != "changed" {
		t.Fatalf("files after delete = %v", got)
	}
}

func TestTokenRefresh(t *testing.T) {
	m, _, issued := newTestManager(t, testObjects()...)
	now := time.Now()
	m.tokens.now = func() time.Time { return now }
	pod := testPod([]corev1.Volume{{Name: "t", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
		{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", Audience: "api", ExpirationSeconds: ptr(int64(1000))}}}}}}}, nil)
	if _, err := m.SetUp(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	dir := m.volumeDir(pod.UID, projectedPlugin, "t")
	steps := []struct {
		after      time.Duration
		wantIssued int32
	}{
		{0, 1},
		{700 * time.Second, 1}, // 70% of its life: kept
		{810 * time.Second, 2}, // past 80%: refreshed
		{900 * time.Second, 2},
	}
	for _, s := range steps {
		now = time.Now().Add(s.after)
		m.refreshAll(context.Background())
		if got := issued.Load(); got != s.wantIssued {
			t.Fatalf("after %v: %d tokens issued, want %d", s.after, got, s.wantIssued)
		}
		want := fmt.Sprintf("token-%d-ns-[api]", s.wantIssued)
		if got := volumeFiles(t, dir)["token"]; got != want {
			t.Fatalf("after %v: token file %q, want %q", s.after, got, want)
		}
	}
}

func TestTearDown(t *testing.T) {
	m, _, _ := newTestManager(t, testObjects()...)
	hostDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(hostDir, "keep"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	pod := testPod([]corev1.Volume{
		{Name: "e", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		{Name: "h", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: hostDir}}},
		{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "sec"}}},
	}, []corev1.VolumeMount{{Name: "h", MountPath: "/h", SubPath: "sub"}})
	if _, err := m.SetUp(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	if _, err := m.EtcFiles(pod, []string{"10.42.0.9"}, DNS{}); err != nil {
		t.Fatal(err)
	}
	uids, err := m.PodUIDs()
	if err != nil || len(uids) != 1 || uids[0] != pod.UID {
		t.Fatalf("PodUIDs = %v, %v", uids, err)
	}
	if err := m.TearDown(pod.UID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(m.podDir(pod.UID)); !os.IsNotExist(err) {
		t.Errorf("pod dir still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(hostDir, "keep")); err != nil {
		t.Errorf("host path touched: %v", err)
	}
	if err := m.TearDown(pod.UID); err != nil {
		t.Errorf("second TearDown: %v", err)
	}
}

// The tests below mount tmpfs and change ownership: root only.

func requireRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

func TestMemoryVolumes(t *testing.T) {
	requireRoot(t)
	m, _, _ := newTestManager(t, testObjects()...)
	pod := testPod([]corev1.Volume{
		{Name: "mem", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory, SizeLimit: ptr(resource.MustParse("1Mi"))}}},
		{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "sec"}}},
	}, nil)
	if _, err := m.SetUp(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{m.volumeDir(pod.UID, emptyDirPlugin, "mem"), m.volumeDir(pod.UID, secretPlugin, "s")} {
		var st syscall.Statfs_t
		if err := syscall.Statfs(dir, &st); err != nil {
			t.Fatal(err)
		}
		if st.Type != 0x01021994 { // TMPFS_MAGIC
			t.Errorf("%s is not on tmpfs (type %x)", dir, st.Type)
		}
	}
	// sizeLimit holds: 2 MiB do not fit in 1 MiB.
	mem := m.volumeDir(pod.UID, emptyDirPlugin, "mem")
	if err := os.WriteFile(filepath.Join(mem, "big"), make([]byte, 2<<20), 0o644); err == nil {
		t.Error("wrote 2 MiB into a 1 MiB tmpfs")
	}
	// SetUp again does not stack another tmpfs.
	if _, err := m.SetUp(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	if err := m.TearDown(pod.UID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(m.podDir(pod.UID)); !os.IsNotExist(err) {
		t.Errorf("pod dir still there: %v", err)
	}
}

func TestFSGroup(t *testing.T) {
	requireRoot(t)
	m, _, _ := newTestManager(t, testObjects()...)
	pod := testPod([]corev1.Volume{
		{Name: "e", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		{Name: "cfg", VolumeSource: cmVolume("cm", false)},
		{Name: "tok", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}}}}}},
	}, nil)
	pod.Spec.SecurityContext = &corev1.PodSecurityContext{FSGroup: ptr(int64(4321))}
	if _, err := m.SetUp(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		path string
		mode os.FileMode
	}{
		{m.volumeDir(pod.UID, emptyDirPlugin, "e"), os.ModeDir | os.ModeSetgid | 0o777},
		{filepath.Join(m.volumeDir(pod.UID, configMapPlugin, "cfg"), "a"), 0o644},
		{filepath.Join(m.volumeDir(pod.UID, projectedPlugin, "tok"), "token"), 0o640},
	}
	for _, c := range checks {
		info, err := os.Stat(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if gid := info.Sys().(*syscall.Stat_t).Gid; gid != 4321 {
			t.Errorf("%s gid %d, want 4321", c.path, gid)
		}
		if info.Mode() != c.mode {
			t.Errorf("%s mode %v, want %v", c.path, info.Mode(), c.mode)
		}
	}
	// Ownership does not make the content volume look changed.
	dir := m.volumeDir(pod.UID, configMapPlugin, "cfg")
	before, _ := os.Readlink(filepath.Join(dir, dataDirName))
	if _, err := m.SetUp(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.Readlink(filepath.Join(dir, dataDirName)); after != before {
		t.Errorf("SetUp with fsGroup rewrote an unchanged volume")
	}
}

// TestTearDownThroughSymlinkedRoot: mountinfo names resolved paths, so a
// RootDir reached through a symlink must still get its tmpfs unmounted.
func TestTearDownThroughSymlinkedRoot(t *testing.T) {
	requireRoot(t)
	real := t.TempDir()
	link := filepath.Join(t.TempDir(), "root")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unmountUnder(real) })
	client := fake.NewClientset(testObjects()...)
	m, err := New(Config{Client: client, RootDir: link})
	if err != nil {
		t.Fatal(err)
	}
	pod := testPod([]corev1.Volume{{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "sec"}}}}, nil)
	if _, err := m.SetUp(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	if mounted, err := isMountPoint(filepath.Join(real, "pods", string(pod.UID), "volumes", secretPlugin, "s")); err != nil || !mounted {
		t.Fatalf("secret volume not on its own tmpfs: %v %v", mounted, err)
	}
	if err := m.TearDown(pod.UID); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), real) {
		t.Errorf("a mount under %s is left", real)
	}
}
