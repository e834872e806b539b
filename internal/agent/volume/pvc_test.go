package volume

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
)

func TestPersistentVolumeClaims(t *testing.T) {
	hostDir, localDir := t.TempDir(), t.TempDir()
	claim := func(name, volume string, phase corev1.PersistentVolumeClaimPhase) *corev1.PersistentVolumeClaim {
		return &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID("uid-" + name)},
			Spec: corev1.PersistentVolumeClaimSpec{VolumeName: volume}, Status: corev1.PersistentVolumeClaimStatus{Phase: phase}}
	}
	pv := func(name, claimName string, src corev1.PersistentVolumeSource) *corev1.PersistentVolume {
		return &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PersistentVolumeSpec{PersistentVolumeSource: src,
				ClaimRef: &corev1.ObjectReference{Namespace: "ns", Name: claimName}}}
	}
	objs := []k8sruntime.Object{
		claim("data", "pv-host", corev1.ClaimBound), pv("pv-host", "data", corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: hostDir}}),
		claim("local", "pv-local", corev1.ClaimBound), pv("pv-local", "local", corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: localDir}}),
		claim("pending", "", corev1.ClaimPending),
		claim("nfs", "pv-nfs", corev1.ClaimBound), pv("pv-nfs", "nfs", corev1.PersistentVolumeSource{NFS: &corev1.NFSVolumeSource{Server: "x", Path: "/"}}),
		claim("stolen", "pv-other", corev1.ClaimBound), pv("pv-other", "someone-else", corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: hostDir}}),
	}
	tests := []struct {
		claim    string
		readOnly bool
		wantPath string
		wantErr  string
	}{
		{claim: "data", wantPath: hostDir},
		{claim: "local", readOnly: true, wantPath: localDir},
		{claim: "missing", wantErr: `MountVolume.SetUp failed for volume "v" : persistentvolumeclaims "missing" not found`},
		{claim: "pending", wantErr: `PVC ns/pending has non-bound phase ("Pending") or empty pvc.Spec.VolumeName ("")`},
		{claim: "nfs", wantErr: `PersistentVolume "pv-nfs" is not a hostPath or local volume`},
		{claim: "stolen", wantErr: "whose claimRef is ns/someone-else"},
	}
	for _, tt := range tests {
		t.Run(tt.claim, func(t *testing.T) {
			m, _, _ := newTestManager(t, objs...)
			pod := testPod([]corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{
				ClaimName: tt.claim, ReadOnly: tt.readOnly}}}}, []corev1.VolumeMount{{Name: "v", MountPath: "/data"}})
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
			got := mounts["c"]
			if len(got) != 1 || got[0].HostPath != tt.wantPath || got[0].ReadOnly != tt.readOnly {
				t.Fatalf("mounts = %+v, want %s (read-only %v)", got, tt.wantPath, tt.readOnly)
			}
		})
	}
}
