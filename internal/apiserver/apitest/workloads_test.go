package apitest

import (
	"context"
	"encoding/json"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"mini.dev/mini/internal/store"
)

func TestKubectlPods(t *testing.T) {
	ts := startServer(t, store.Config{})
	mustContain(t, ts.kubectl("api-resources", "--api-group="),
		`(?m)^pods\s+po\s+v1\s+true\s+Pod$`)
	mustContain(t, ts.kubectl("run", "web", "--image=nginx", "--labels=app=web"), `^pod/web created\n$`)
	mustContain(t, ts.kubectl("get", "pods"), `(?m)^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE$`, `(?m)^web\s+0/1\s+Pending\s+0\s+\d+s$`)
	mustContain(t, ts.kubectl("get", "po", "-o", "wide"),
		`(?m)^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE\s+NOMINATED NODE\s+READINESS GATES$`,
		`(?m)^web\s+0/1\s+Pending\s+0\s+\d+s\s+<none>\s+<none>\s+<none>\s+<none>$`)

	// Upstream's defaults, and the status the server owns.
	var pod corev1.Pod
	if err := json.Unmarshal([]byte(ts.kubectl("get", "pod", "web", "-o", "json")), &pod); err != nil {
		t.Fatal(err)
	}
	c := pod.Spec.Containers[0]
	if pod.Spec.RestartPolicy != "Always" || pod.Spec.DNSPolicy != "ClusterFirst" || *pod.Spec.TerminationGracePeriodSeconds != 30 ||
		pod.Spec.SchedulerName != "default-scheduler" || !*pod.Spec.EnableServiceLinks || c.ImagePullPolicy != "Always" ||
		c.TerminationMessagePath != "/dev/termination-log" || c.TerminationMessagePolicy != "File" ||
		pod.Status.Phase != "Pending" || pod.Status.QOSClass != "BestEffort" || pod.Generation != 1 {
		t.Fatalf("pod as stored: %+v", pod)
	}

	// Only images (and a few other fields) of a pod may change.
	mustContain(t, ts.kubectl("set", "image", "pod/web", "web=nginx:1.27"), `^pod/web image updated\n$`)
	mustContain(t, ts.kubectl("get", "pod", "web", "-o", "jsonpath={.spec.containers[0].image} {.metadata.generation}"), `^nginx:1.27 2$`)
	mustContain(t, ts.kubectlFails("patch", "pod", "web", "-p", `{"spec":{"hostname":"other"}}`),
		`The Pod "web" is invalid: spec: Forbidden: pod updates may not change fields other than `+
			"`spec.containers\\[\\*\\].image`,`spec.initContainers\\[\\*\\].image`,`spec.activeDeadlineSeconds`")

	// The kubelet's status write shows in the table.
	ctx := context.Background()
	pods := ts.client().CoreV1().Pods("default")
	cur, err := pods.Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cur.Status.Phase = corev1.PodRunning
	cur.Status.PodIP = "10.42.0.7"
	cur.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "web", Ready: true, Image: "nginx:1.27",
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}}}
	if _, err := pods.UpdateStatus(ctx, cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	mustContain(t, ts.kubectl("get", "pods", "-o", "wide"), `(?m)^web\s+1/1\s+Running\s+0\s+\d+s\s+10\.42\.0\.7\s+<none>\s+<none>\s+<none>$`)
	mustContain(t, ts.kubectl("get", "pods", "--field-selector", "status.phase=Running,status.podIP=10.42.0.7", "-o", "name"), `^pod/web\n$`)
	mustContain(t, ts.kubectl("get", "pods", "--field-selector", "spec.nodeName=n1", "-o", "name"), `^$`)

	// Validation as upstream words it.
	_, errOut, err := ts.createManifest(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"bad"},"spec":{"containers":[{"name":"c"}],"restartPolicy":"Sometimes"}}`)
	if err == nil {
		t.Fatal("invalid pod created")
	}
	mustContain(t, errOut, `spec.containers\[0\].image: Required value`, `spec.restartPolicy: Unsupported value: "Sometimes"`)
}

func TestKubectlDeployments(t *testing.T) {
	ts := startServer(t, store.Config{})
	mustContain(t, ts.kubectl("api-resources", "--api-group=apps"),
		`(?m)^controllerrevisions\s+apps/v1\s+true\s+ControllerRevision$`,
		`(?m)^daemonsets\s+ds\s+apps/v1\s+true\s+DaemonSet$`,
		`(?m)^deployments\s+deploy\s+apps/v1\s+true\s+Deployment$`,
		`(?m)^replicasets\s+rs\s+apps/v1\s+true\s+ReplicaSet$`,
		`(?m)^statefulsets\s+sts\s+apps/v1\s+true\s+StatefulSet$`)

	mustContain(t, ts.kubectl("create", "deployment", "web", "--image=nginx:1.27", "--replicas=2"), `^deployment.apps/web created\n$`)
	mustContain(t, ts.kubectl("get", "deploy"), `(?m)^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE$`, `(?m)^web\s+0/2\s+0\s+0\s+\d+s$`)
	mustContain(t, ts.kubectl("get", "deployments", "-o", "wide"),
		`(?m)^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE\s+CONTAINERS\s+IMAGES\s+SELECTOR$`,
		`(?m)^web\s+0/2\s+0\s+0\s+\d+s\s+nginx\s+nginx:1.27\s+app=web$`)
	mustContain(t, ts.kubectl("get", "deploy", "web", "-o",
		"jsonpath={.spec.strategy.type} {.spec.strategy.rollingUpdate.maxSurge} {.spec.revisionHistoryLimit} {.spec.progressDeadlineSeconds} {.metadata.generation} {.spec.template.spec.containers[0].imagePullPolicy}"),
		`^RollingUpdate 25% 10 600 1 IfNotPresent$`)

	// Scaling and a new image each move the generation; the selector stays.
	mustContain(t, ts.kubectl("scale", "deployment", "web", "--replicas=3"), `^deployment.apps/web scaled\n$`)
	mustContain(t, ts.kubectl("set", "image", "deployment/web", "nginx=nginx:1.28"), `^deployment.apps/web image updated\n$`)
	mustContain(t, ts.kubectl("get", "deploy", "web", "-o", "jsonpath={.spec.replicas} {.metadata.generation}"), `^3 3$`)
	mustContain(t, ts.kubectlFails("patch", "deploy", "web", "-p", `{"spec":{"selector":{"matchLabels":{"app":"db"}},"template":{"metadata":{"labels":{"app":"db"}}}}}`),
		`spec.selector: Invalid value: .*: field is immutable`)
	_, errOut, err := ts.createManifest(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"odd"},"spec":{"selector":{"matchLabels":{"app":"a"}},"template":{"metadata":{"labels":{"app":"b"}},"spec":{"containers":[{"name":"c","image":"x"}]}}}}`)
	if err == nil {
		t.Fatal("deployment with a mismatched selector created")
	}
	mustContain(t, errOut, "spec.template.metadata.labels: Invalid value: .*`selector` does not match template `labels`")

	_, errOut, err = ts.createManifest(`apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: front
spec:
  replicas: 2
  selector:
    matchLabels: {app: front}
  template:
    metadata:
      labels: {app: front}
    spec:
      containers:
      - name: web
        image: nginx:1.27
`)
	if err != nil {
		t.Fatalf("create replicaset: %v %s", err, errOut)
	}
	mustContain(t, ts.kubectl("get", "rs", "-o", "wide"),
		`(?m)^NAME\s+DESIRED\s+CURRENT\s+READY\s+AGE\s+CONTAINERS\s+IMAGES\s+SELECTOR$`, `(?m)^front\s+2\s+0\s+0\s+\d+s\s+web\s+nginx:1.27\s+app=front$`)
	mustContain(t, ts.kubectl("get", "rs", "--field-selector", "status.replicas=0", "-o", "name"), `^replicaset.apps/front\n$`)
}

func TestKubectlStatefulSetsAndDaemonSets(t *testing.T) {
	ts := startServer(t, store.Config{})
	_, errOut, err := ts.createManifest(`apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  serviceName: db
  selector:
    matchLabels: {app: db}
  template:
    metadata:
      labels: {app: db}
    spec:
      containers:
      - name: pg
        image: postgres:17
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
spec:
  selector:
    matchLabels: {app: agent}
  template:
    metadata:
      labels: {app: agent}
    spec:
      nodeSelector: {kubernetes.io/os: linux}
      containers:
      - name: agent
        image: busybox:1.36
`)
	if err != nil {
		t.Fatalf("create: %v %s", err, errOut)
	}
	mustContain(t, ts.kubectl("get", "sts", "-o", "wide"), `(?m)^NAME\s+READY\s+AGE\s+CONTAINERS\s+IMAGES$`, `(?m)^db\s+0/1\s+\d+s\s+pg\s+postgres:17$`)
	mustContain(t, ts.kubectl("get", "sts", "db", "-o",
		"jsonpath={.spec.podManagementPolicy} {.spec.updateStrategy.rollingUpdate.partition} {.spec.persistentVolumeClaimRetentionPolicy.whenDeleted} {.spec.volumeClaimTemplates[0].spec.volumeMode}"),
		`^OrderedReady 0 Retain Filesystem$`)
	mustContain(t, ts.kubectl("scale", "sts", "db", "--replicas=2"), `^statefulset.apps/db scaled\n$`)
	mustContain(t, ts.kubectlFails("patch", "sts", "db", "-p", `{"spec":{"serviceName":"other"}}`),
		`spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden`)

	mustContain(t, ts.kubectl("get", "ds"), `(?m)^NAME\s+DESIRED\s+CURRENT\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+NODE SELECTOR\s+AGE$`,
		`(?m)^agent\s+0\s+0\s+0\s+0\s+0\s+kubernetes.io/os=linux\s+\d+s$`)
	mustContain(t, ts.kubectl("get", "ds", "agent", "-o", `jsonpath={.metadata.annotations.deprecated\.daemonset\.template\.generation}`), `^1$`)
	ts.kubectl("set", "image", "ds/agent", "agent=busybox:1.37")
	mustContain(t, ts.kubectl("get", "ds", "agent", "-o", `jsonpath={.metadata.annotations.deprecated\.daemonset\.template\.generation} {.metadata.generation}`), `^2 2$`)
}

func TestKubectlJobs(t *testing.T) {
	ts := startServer(t, store.Config{})
	mustContain(t, ts.kubectl("api-resources", "--api-group=batch"),
		`(?m)^cronjobs\s+cj\s+batch/v1\s+true\s+CronJob$`, `(?m)^jobs\s+batch/v1\s+true\s+Job$`)
	mustContain(t, ts.kubectl("create", "job", "pi", "--image=perl:5.34", "--", "perl", "-e", "print 1"), `^job.batch/pi created\n$`)
	mustContain(t, ts.kubectl("get", "jobs"), `(?m)^NAME\s+STATUS\s+COMPLETIONS\s+DURATION\s+AGE$`, `(?m)^pi\s+Running\s+0/1\s+\d+s$`)
	uid := ts.kubectl("get", "job", "pi", "-o", "jsonpath={.metadata.uid}")
	mustContain(t, ts.kubectl("get", "job", "pi", "-o", "wide"), `(?m)^pi\s+Running\s+0/1\s+\d+s\s+pi\s+perl:5.34\s+batch.kubernetes.io/controller-uid=`+uid+`$`)
	mustContain(t, ts.kubectl("get", "job", "pi", "-o",
		`jsonpath={.spec.backoffLimit} {.spec.completionMode} {.spec.suspend} {.spec.podReplacementPolicy} {.spec.template.metadata.labels.job-name} {.metadata.labels.batch\.kubernetes\.io/job-name}`),
		`^6 NonIndexed false TerminatingOrFailed pi pi$`)
	mustContain(t, ts.kubectlFails("set", "image", "job/pi", "pi=perl:5.40"), `spec.template: Invalid value: .*field is immutable`)
	mustContain(t, ts.kubectl("get", "jobs", "--field-selector", "status.successful=0", "-o", "name"), `^job.batch/pi\n$`)

	mustContain(t, ts.kubectl("create", "cronjob", "tick", "--image=busybox:1.36", "--schedule=*/5 * * * *", "--", "date"), `^cronjob.batch/tick created\n$`)
	mustContain(t, ts.kubectl("get", "cj"), `(?m)^NAME\s+SCHEDULE\s+TIMEZONE\s+SUSPEND\s+ACTIVE\s+LAST SCHEDULE\s+AGE$`,
		`(?m)^tick\s+\*/5 \* \* \* \*\s+<none>\s+False\s+0\s+<none>\s+\d+s$`)
	mustContain(t, ts.kubectl("get", "cj", "tick", "-o", "jsonpath={.spec.concurrencyPolicy} {.spec.successfulJobsHistoryLimit} {.spec.failedJobsHistoryLimit}"), `^Allow 3 1$`)
	mustContain(t, ts.kubectlFails("create", "cronjob", "bad", "--image=busybox", "--schedule=61 * * * *"),
		`spec.schedule: Invalid value: "61 \* \* \* \*": end of range \(61\) above maximum \(59\): 61`)

	// `kubectl get all` finds the workloads through the "all" category.
	mustContain(t, ts.kubectl("get", "all"), `(?m)^job.batch/pi\s`, `(?m)^cronjob.batch/tick\s`)
}
