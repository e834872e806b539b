package apitest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"mini.dev/mini/internal/store"
)

// Test IP plan: services in 10.43.0.0/16 (given explicitly until the
// server allocates them), pods in 10.42.0.0/24, the node at 192.168.1.10.
const (
	webClusterIP = "10.43.0.100"
	apiClusterIP = "10.43.0.101"
	testPodIP    = "10.42.0.5"
	testNodeIP   = "192.168.1.10"
)

func TestKubectlClusterDiscovery(t *testing.T) {
	ts := startServer(t, store.Config{})
	mustContain(t, ts.kubectl("api-resources"),
		`(?m)^services\s+svc\s+v1\s+true\s+Service$`,
		`(?m)^endpoints\s+ep\s+v1\s+true\s+Endpoints$`,
		`(?m)^serviceaccounts\s+sa\s+v1\s+true\s+ServiceAccount$`,
		`(?m)^nodes\s+no\s+v1\s+false\s+Node$`,
		`(?m)^events\s+ev\s+v1\s+true\s+Event$`,
		`(?m)^events\s+ev\s+events.k8s.io/v1\s+true\s+Event$`,
		`(?m)^persistentvolumes\s+pv\s+v1\s+false\s+PersistentVolume$`,
		`(?m)^persistentvolumeclaims\s+pvc\s+v1\s+true\s+PersistentVolumeClaim$`,
		`(?m)^resourcequotas\s+quota\s+v1\s+true\s+ResourceQuota$`,
		`(?m)^limitranges\s+limits\s+v1\s+true\s+LimitRange$`,
		`(?m)^componentstatuses\s+cs\s+v1\s+false\s+ComponentStatus$`,
		`(?m)^endpointslices\s+discovery.k8s.io/v1\s+true\s+EndpointSlice$`,
		`(?m)^leases\s+coordination.k8s.io/v1\s+true\s+Lease$`,
		`(?m)^priorityclasses\s+pc\s+scheduling.k8s.io/v1\s+false\s+PriorityClass$`,
		`(?m)^storageclasses\s+sc\s+storage.k8s.io/v1\s+false\s+StorageClass$`)
	mustContain(t, ts.kubectl("api-resources", "--categories=all", "--api-group="), `(?m)^services\s+svc\s+v1\s+true\s+Service$`)
	// Component statuses are only read.
	_, err := ts.client().CoreV1().ComponentStatuses().Create(context.Background(),
		&corev1.ComponentStatus{ObjectMeta: metav1.ObjectMeta{Name: "etcd-0"}}, metav1.CreateOptions{})
	if !apierrors.IsMethodNotSupported(err) {
		t.Errorf("create componentstatus: %v, want 405", err)
	}
}

func TestKubectlServices(t *testing.T) {
	ts := startServer(t, store.Config{})
	mustContain(t, ts.kubectl("create", "service", "clusterip", "web", "--tcp=80:8080", "--clusterip="+webClusterIP),
		`^service/web created\n$`)
	mustContain(t, ts.kubectl("get", "svc"),
		`(?m)^NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE$`,
		`(?m)^web\s+ClusterIP\s+10\.43\.0\.100\s+<none>\s+80/TCP\s+\d+s$`)
	mustContain(t, ts.kubectl("get", "svc", "web", "-o", "wide"),
		`(?m)^NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE\s+SELECTOR$`,
		`(?m)^web\s+ClusterIP\s+10\.43\.0\.100\s+<none>\s+80/TCP\s+\S+\s+app=web$`)
	mustContain(t, ts.kubectl("get", "svc", "web", "-o",
		"jsonpath={.spec.sessionAffinity} {.spec.ports[0].protocol} {.spec.ports[0].targetPort} {.spec.ipFamilyPolicy} {.spec.ipFamilies} {.spec.clusterIPs} {.spec.internalTrafficPolicy}"),
		`^None TCP 8080 SingleStack \["IPv4"\] \["10.43.0.100"\] Cluster$`)

	_, _, err := ts.createManifest(`{"apiVersion":"v1","kind":"Service","metadata":{"name":"api"},
		"spec":{"type":"NodePort","clusterIP":"` + apiClusterIP + `","selector":{"app":"api"},
		"ports":[{"name":"http","port":80,"nodePort":30080},{"name":"dns","port":53,"protocol":"UDP","nodePort":30053}]}}`)
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, ts.kubectl("get", "svc", "api"), `(?m)^api\s+NodePort\s+10\.43\.0\.101\s+<none>\s+80:30080/TCP,53:30053/UDP\s+\d+s$`)
	mustContain(t, ts.kubectl("get", "svc", "api", "-o", "jsonpath={.spec.externalTrafficPolicy}"), `^Cluster$`)
	mustContain(t, ts.kubectl("get", "svc", "--field-selector", "spec.type=NodePort", "-o", "name"), `^service/api\n$`)
	mustContain(t, ts.kubectlFails("get", "svc", "--field-selector", "spec.ports=80"), `field label not supported: spec.ports`)

	// Upstream's validation, with its field paths.
	_, errOut, err := ts.createManifest(`{"apiVersion":"v1","kind":"Service","metadata":{"name":"bad"},
		"spec":{"ports":[{"port":80},{"port":70000}]}}`)
	if err == nil {
		t.Fatal("invalid service created")
	}
	mustContain(t, errOut, `The Service "bad" is invalid`, `spec\.ports\[0\]\.name: Required value`,
		`spec\.ports\[1\]\.port: Invalid value: 70000: must be between 1 and 65535, inclusive`)
	mustContain(t, ts.kubectlFails("create", "service", "externalname", "Bad_Name", "--external-name=example.com"),
		`metadata.name: Invalid value: "Bad_Name"`)

	// The cluster IP never changes; re-submitting the created YAML without
	// it keeps it, as does a replace.
	mustContain(t, ts.kubectlFails("patch", "svc", "web", "-p", `{"spec":{"clusterIP":"10.43.0.200","clusterIPs":["10.43.0.200"]}}`),
		`spec\.clusterIPs\[0\]: Invalid value: \["10\.43\.0\.200"\]: may not change once set`)
	_, errOut, err = ts.kubectlAs(ts.kubeconfig, `{"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},
		"spec":{"selector":{"app":"web"},"ports":[{"name":"80-8080","port":80,"targetPort":8081}]}}`, "replace", "-f", "-", "--validate=false")
	if err != nil {
		t.Fatalf("replace without clusterIP: %v\n%s", err, errOut)
	}
	mustContain(t, ts.kubectl("get", "svc", "web", "-o", "jsonpath={.spec.clusterIP} {.spec.ports[0].targetPort}"), `^10\.43\.0\.100 8081$`)

	// Becoming an ExternalName service drops the IP fields.
	ts.kubectl("patch", "svc", "web", "-p", `{"spec":{"type":"ExternalName","externalName":"db.example.com"}}`)
	mustContain(t, ts.kubectl("get", "svc", "web"), `(?m)^web\s+ExternalName\s+<none>\s+db\.example\.com\s+80/TCP\s+\d+s$`)
	mustContain(t, ts.kubectl("get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}|{.spec.ipFamilies}|{.spec.ipFamilyPolicy}"), `^\|\|$`)

	// kubectl apply, then apply of a change.
	manifest := `{"apiVersion":"v1","kind":"Service","metadata":{"name":"api2"},
		"spec":{"clusterIP":"10.43.0.102","selector":{"app":"api"},"ports":[{"port":80,"targetPort":%d}]}}`
	for i, want := range []string{`service/api2 created`, `service/api2 configured`} {
		out, errOut, err := ts.kubectlAs(ts.kubeconfig, fmt.Sprintf(manifest, 8080+i), "apply", "-f", "-")
		if err != nil {
			t.Fatalf("apply: %v\n%s", err, errOut)
		}
		mustContain(t, out, want)
	}
	mustContain(t, ts.kubectl("get", "svc", "api2", "-o", "jsonpath={.spec.ports[0].targetPort}"), `^8081$`)

	// Endpoints and endpoint slices.
	if _, _, err := ts.createManifest(`{"apiVersion":"v1","kind":"Endpoints","metadata":{"name":"api"},
		"subsets":[{"addresses":[{"ip":"` + testPodIP + `"}],"ports":[{"name":"http","port":8080}]}]}`); err != nil {
		t.Fatal(err)
	}
	mustContain(t, ts.kubectl("get", "ep", "api"), `(?m)^NAME\s+ENDPOINTS\s+AGE$`, `(?m)^api\s+10\.42\.0\.5:8080\s+\d+s$`)
	if _, _, err := ts.createManifest(`{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"api-x1"},
		"addressType":"IPv4","endpoints":[{"addresses":["` + testPodIP + `"]}],"ports":[{"name":"http","port":8080}]}`); err != nil {
		t.Fatal(err)
	}
	mustContain(t, ts.kubectl("get", "endpointslices"), `(?m)^NAME\s+ADDRESSTYPE\s+PORTS\s+ENDPOINTS\s+AGE$`, `(?m)^api-x1\s+IPv4\s+8080\s+10\.42\.0\.5\s+\d+s$`)
	mustContain(t, ts.kubectl("get", "endpointslice", "api-x1", "-o", "jsonpath={.ports[0].protocol} {.metadata.generation}"), `^TCP 1$`)
}

func TestKubectlNodesAndEvents(t *testing.T) {
	ts := startServer(t, store.Config{})
	// An agent registers its node with a status, which create keeps.
	if _, errOut, err := ts.createManifest(`{"apiVersion":"v1","kind":"Node","metadata":{"name":"node-1",
		"labels":{"node-role.kubernetes.io/control-plane":""}},
		"status":{"conditions":[{"type":"Ready","status":"True"}],
		"addresses":[{"type":"InternalIP","address":"` + testNodeIP + `"},{"type":"Hostname","address":"node-1"}],
		"capacity":{"cpu":"4","memory":"8Gi","pods":"110"},
		"nodeInfo":{"kubeletVersion":"v1.37.2","osImage":"Debian GNU/Linux 13 (trixie)","kernelVersion":"6.12.38","containerRuntimeVersion":"containerd://2.1.0",
		"machineID":"","systemUUID":"","bootID":"","kubeProxyVersion":"","operatingSystem":"linux","architecture":"amd64"}}}`); err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	mustContain(t, ts.kubectl("get", "nodes"),
		`(?m)^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION$`, `(?m)^node-1\s+Ready\s+control-plane\s+\d+s\s+v1\.37\.2$`)
	mustContain(t, ts.kubectl("get", "no", "-o", "wide"),
		`(?m)^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION\s+INTERNAL-IP\s+EXTERNAL-IP\s+OS-IMAGE\s+KERNEL-VERSION\s+CONTAINER-RUNTIME$`,
		`(?m)^node-1\s+Ready\s+control-plane\s+\S+\s+v1\.37\.2\s+192\.168\.1\.10\s+<none>\s+Debian GNU/Linux 13 \(trixie\)\s+6\.12\.38\s+containerd://2\.1\.0$`)
	mustContain(t, ts.kubectl("get", "node", "node-1", "-o", "jsonpath={.status.allocatable.cpu}"), `^4$`)
	mustContain(t, ts.kubectl("cordon", "node-1"), `node/node-1 cordoned`)
	mustContain(t, ts.kubectl("get", "nodes"), `(?m)^node-1\s+Ready,SchedulingDisabled\s+control-plane`)
	mustContain(t, ts.kubectl("get", "nodes", "--field-selector", "spec.unschedulable=true", "-o", "name"), `^node/node-1\n$`)
	mustContain(t, ts.kubectl("taint", "node", "node-1", "dedicated=gpu:NoSchedule"), `node/node-1 tainted`)
	mustContain(t, ts.kubectlFails("patch", "node", "node-1", "-p", `{"spec":{"taints":[{"key":"a","effect":"Sometimes"}]}}`),
		`metadata\.taints\[0\]\.effect: Unsupported value: "Sometimes"`)

	// Events: core/v1 and events.k8s.io/v1.
	ctx := context.Background()
	now := metav1.Now()
	_, err := ts.client().CoreV1().Events("default").Create(ctx, &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "web.1"},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web", FieldPath: "spec.containers{web}"},
		Reason:         "Pulled", Message: "Container image \"nginx\" already present on machine", Type: corev1.EventTypeNormal,
		Source: corev1.EventSource{Component: "kubelet", Host: "node-1"}, FirstTimestamp: now, LastTimestamp: now, Count: 3,
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, ts.kubectl("get", "events"),
		`(?m)^LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE$`,
		`(?m)^\d+s\s+Normal\s+Pulled\s+pod/web\s+Container image "nginx" already present on machine$`)
	mustContain(t, ts.kubectl("get", "ev", "-o", "wide"),
		`(?m)^LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+SUBOBJECT\s+SOURCE\s+MESSAGE\s+FIRST SEEN\s+COUNT\s+NAME$`,
		`(?m)^\d+s\s+Normal\s+Pulled\s+pod/web\s+spec\.containers\{web\}\s+kubelet, node-1\s+Container image .* machine\s+\d+s\s+3\s+web\.1$`)
	mustContain(t, ts.kubectl("get", "events", "--field-selector", "involvedObject.name=web,reason=Pulled", "-o", "name"), `^event/web\.1\n$`)
	_, err = ts.client().CoreV1().Events("default").Create(ctx, &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: "stray"}, InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "other", Name: "x"},
	}, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "involvedObject.namespace: Invalid value: \"other\": does not match event.namespace") {
		t.Errorf("event in the wrong namespace: %v", err)
	}

	evs := ts.client().EventsV1().Events("default")
	_, err = evs.Create(ctx, &eventsv1.Event{ObjectMeta: metav1.ObjectMeta{Name: "web.2"},
		EventTime: metav1.NewMicroTime(time.Now()), ReportingController: "mini.dev/scheduler", ReportingInstance: "server-1",
		Action: "Binding", Reason: "Scheduled", Note: "Successfully assigned default/web to node-1", Type: corev1.EventTypeNormal,
		Regarding: corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, ts.kubectl("get", "events.events.k8s.io"), `(?m)^\d+s\s+Normal\s+Scheduled\s+pod/web\s+Successfully assigned default/web to node-1$`)
	_, err = evs.Create(ctx, &eventsv1.Event{ObjectMeta: metav1.ObjectMeta{Name: "old-style"}, Reason: "X", Type: "Info",
		DeprecatedCount: 2, Regarding: corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web"}}, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "eventTime: Required value") || !strings.Contains(err.Error(), "count: Invalid value") {
		t.Errorf("old-style event through events.k8s.io: %v", err)
	}
}

func TestKubectlStorageAndPolicy(t *testing.T) {
	ts := startServer(t, store.Config{})
	ctx := context.Background()

	if _, errOut, err := ts.createManifest(`{"apiVersion":"storage.k8s.io/v1","kind":"StorageClass","metadata":{"name":"local-path",
		"annotations":{"storageclass.kubernetes.io/is-default-class":"true"}},"provisioner":"rancher.io/local-path","volumeBindingMode":"WaitForFirstConsumer"}`); err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	mustContain(t, ts.kubectl("get", "sc"),
		`(?m)^NAME\s+PROVISIONER\s+RECLAIMPOLICY\s+VOLUMEBINDINGMODE\s+ALLOWVOLUMEEXPANSION\s+AGE$`,
		`(?m)^local-path \(default\)\s+rancher\.io/local-path\s+Delete\s+WaitForFirstConsumer\s+false\s+\d+s$`)
	mustContain(t, ts.kubectlFails("patch", "sc", "local-path", "-p", `{"provisioner":"other"}`), `provisioner: Forbidden: updates to provisioner are forbidden.`)

	if _, errOut, err := ts.createManifest(`{"apiVersion":"v1","kind":"PersistentVolume","metadata":{"name":"pv1"},
		"spec":{"capacity":{"storage":"1Gi"},"accessModes":["ReadWriteOnce"],"storageClassName":"local-path",
		"hostPath":{"path":"/var/lib/mini/storage/pv1"}}}`); err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	mustContain(t, ts.kubectl("get", "pv"),
		`(?m)^NAME\s+CAPACITY\s+ACCESS MODES\s+RECLAIM POLICY\s+STATUS\s+CLAIM\s+STORAGECLASS\s+VOLUMEATTRIBUTESCLASS\s+REASON\s+AGE$`,
		`(?m)^pv1\s+1Gi\s+RWO\s+Retain\s+Pending\s+local-path\s+<unset>\s+\d+s$`)
	if _, errOut, err := ts.createManifest(`{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"data"},
		"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}}}`); err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	mustContain(t, ts.kubectl("get", "pvc"),
		`(?m)^NAME\s+STATUS\s+VOLUME\s+CAPACITY\s+ACCESS MODES\s+STORAGECLASS\s+VOLUMEATTRIBUTESCLASS\s+AGE$`,
		`(?m)^data\s+Pending\s+<unset>\s+\d+s$`)
	mustContain(t, ts.kubectl("get", "pvc", "data", "-o", "jsonpath={.spec.volumeMode} {.status.phase}"), `^Filesystem Pending$`)
	mustContain(t, ts.kubectlFails("patch", "pvc", "data", "-p", `{"spec":{"accessModes":["ReadWriteMany"]}}`),
		`spec: Forbidden: spec is immutable after creation`)
	_, errOut, err := ts.createManifest(`{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"nosize"},"spec":{"accessModes":["ReadWriteOnce"]}}`)
	if err == nil || !strings.Contains(errOut, "spec.resources[storage]: Required value") {
		t.Errorf("claim without a size: %v %s", err, errOut)
	}

	mustContain(t, ts.kubectl("create", "quota", "compute", "--hard=pods=10,requests.cpu=2,limits.memory=4Gi"), `resourcequota/compute created`)
	quotas := ts.client().CoreV1().ResourceQuotas("default")
	q, err := quotas.Get(ctx, "compute", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	q.Status.Hard = q.Spec.Hard
	q.Status.Used = corev1.ResourceList{corev1.ResourcePods: resource.MustParse("3"), corev1.ResourceRequestsCPU: resource.MustParse("500m")}
	if _, err := quotas.UpdateStatus(ctx, q, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	mustContain(t, ts.kubectl("get", "quota"), `(?m)^NAME\s+REQUEST\s+LIMIT\s+AGE$`,
		`(?m)^compute\s+pods: 3/10, requests\.cpu: 500m/2\s+limits\.memory: 0/4Gi\s+\d+s$`)
	mustContain(t, ts.kubectlFails("create", "quota", "bad", "--hard=widgets=1"), `spec.hard\[widgets\]: Invalid value: "widgets": must be a standard resource`)

	if _, errOut, err := ts.createManifest(`{"apiVersion":"v1","kind":"LimitRange","metadata":{"name":"limits"},
		"spec":{"limits":[{"type":"Container","max":{"cpu":"2"},"min":{"memory":"64Mi"}}]}}`); err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	mustContain(t, ts.kubectl("get", "limits"), `(?m)^NAME\s+CREATED AT$`, `(?m)^limits\s+\d{4}-\d\d-\d\dT`)
	mustContain(t, ts.kubectl("get", "limitrange", "limits", "-o", "jsonpath={.spec.limits[0].default.cpu} {.spec.limits[0].defaultRequest.memory}"), `^2 64Mi$`)

	mustContain(t, ts.kubectl("create", "priorityclass", "high", "--value=1000", "--description=important"), `priorityclass.scheduling.k8s.io/high created`)
	mustContain(t, ts.kubectl("get", "pc"), `(?m)^NAME\s+VALUE\s+GLOBAL-DEFAULT\s+AGE\s+PREEMPTIONPOLICY$`, `(?m)^high\s+1000\s+false\s+\d+s\s+PreemptLowerPriority$`)
	mustContain(t, ts.kubectlFails("create", "priorityclass", "system-mine", "--value=5"), `priority class names with 'system-' prefix are reserved for system use only`)
	mustContain(t, ts.kubectlFails("create", "priorityclass", "top", "--value=2000000000"), `maximum allowed value of a user defined priority is 1000000000`)

	mustContain(t, ts.kubectl("create", "serviceaccount", "builder"), `serviceaccount/builder created`)
	mustContain(t, ts.kubectl("get", "sa", "builder"), `(?m)^NAME\s+SECRETS\s+AGE$`, `(?m)^builder\s+0\s+\d+s$`)

	holder, duration := "node-1", int32(40)
	if _, err := ts.client().CoordinationV1().Leases("kube-node-lease").Create(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "node-1"},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &duration}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	mustContain(t, ts.kubectl("get", "leases", "-n", "kube-node-lease"), `(?m)^NAME\s+HOLDER\s+AGE$`, `(?m)^node-1\s+node-1\s+\d+s$`)
}
