package nodetest

import (
	"strings"
	"testing"
	"time"
)

// Environment from a ConfigMap and a Secret, key by key (valueFrom) and
// whole (envFrom, with a prefix), as the container sees it.
func TestEnvFromConfigMapAndSecret(t *testing.T) {
	t.Parallel()
	k := newNamespace(t, sharedNode(t))
	k.apply(`apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  color: blue
  size: large
---
apiVersion: v1
kind: Secret
metadata:
  name: creds
stringData:
  user: admin
  password: s3cr3t
---
apiVersion: v1
kind: Pod
metadata:
  name: printer
spec:
  restartPolicy: Never
  containers:
  - name: env
    image: busybox
    imagePullPolicy: IfNotPresent
    command: [sh, -c, 'env | grep -E "^(COLOR|PASSWORD|CFG_|SEC_|LITERAL|EXPANDED|POD_NAME)" | sort']
    env:
    - name: COLOR
      valueFrom:
        configMapKeyRef: {name: settings, key: color}
    - name: PASSWORD
      valueFrom:
        secretKeyRef: {name: creds, key: password}
    - name: LITERAL
      value: plain
    - name: EXPANDED
      value: $(COLOR)-$(LITERAL)
    - name: POD_NAME
      valueFrom:
        fieldRef: {fieldPath: metadata.name}
    envFrom:
    - configMapRef: {name: settings}
      prefix: CFG_
    - secretRef: {name: creds}
      prefix: SEC_
`)
	k.waitField(60*time.Second, "pod/printer", `{.status.phase}`, `^Succeeded$`)
	got := k.kubectl("logs", "printer")
	want := strings.Join([]string{
		"CFG_color=blue",
		"CFG_size=large",
		"COLOR=blue",
		"EXPANDED=blue-plain",
		"LITERAL=plain",
		"PASSWORD=s3cr3t",
		"POD_NAME=printer",
		"SEC_password=s3cr3t",
		"SEC_user=admin",
	}, "\n") + "\n"
	if got != want {
		t.Fatalf("container environment:\n%s\nwant:\n%s", got, want)
	}
}

// A configMap volume follows its ConfigMap: an update is seen inside the
// running pod, atomically, within 30 s, and the container is not
// restarted for it.
func TestConfigMapVolumeUpdate(t *testing.T) {
	t.Parallel()
	k := newNamespace(t, sharedNode(t))
	k.apply(`apiVersion: v1
kind: ConfigMap
metadata:
  name: site
data:
  message: first version
  other: unchanged
---
apiVersion: v1
kind: Pod
metadata:
  name: watcher
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox
    imagePullPolicy: IfNotPresent
    command: [sleep, "3600"]
    volumeMounts:
    - {name: site, mountPath: /etc/site, readOnly: true}
  volumes:
  - name: site
    configMap:
      name: site
`)
	k.eventually(60*time.Second, []string{"get", "pod", "watcher", "--no-headers"}, `^watcher\s+1/1\s+Running`)
	if got := k.kubectl("exec", "watcher", "--", "cat", "/etc/site/message"); got != "first version" {
		t.Fatalf("before the update: %q", got)
	}
	k.apply(`apiVersion: v1
kind: ConfigMap
metadata:
  name: site
data:
  message: second version
  other: unchanged
  added: new key
`)
	start := time.Now()
	k.eventually(30*time.Second, []string{"exec", "watcher", "--", "cat", "/etc/site/message"}, `^second version$`)
	t.Logf("update seen inside the pod after %s", time.Since(start).Round(100*time.Millisecond))
	if got := k.kubectl("exec", "watcher", "--", "cat", "/etc/site/added", "/etc/site/other"); got != "new keyunchanged" {
		t.Errorf("other keys after the update: %q", got)
	}
	// Files are links into a ..data directory swapped in one rename, as
	// upstream's atomic writer does, so readers never see half an update.
	if got := k.kubectl("exec", "watcher", "--", "readlink", "/etc/site/message"); got != "..data/message\n" {
		t.Errorf("readlink message = %q, want ..data/message", got)
	}
	if got := k.jsonpath("pod/watcher", `{.status.containerStatuses[0].restartCount}`); got != "0" {
		t.Errorf("restartCount %s after a ConfigMap update", got)
	}
}
