package tourtest

import (
	"regexp"
	"time"
)

// step is one command of the tour and what a user sees from it.
type step struct {
	// cmd is the command exactly as the README shows it, without its
	// comment.
	cmd string
	// want must match the command's output (stdout and stderr together).
	want string
	// exit is the exit status the command must end with.
	exit int
	// timeout bounds the command (default defaultTimeout); it only bounds
	// a failure.
	timeout time.Duration
	// settles marks a command whose answer follows the cluster a moment
	// later (a Service's rules are programmed once its endpoints change,
	// after `rollout status` returns): it is run again, as a user would,
	// until it matches or settleTimeout passes.
	settles bool
}

const settleTimeout = 30 * time.Second

const defaultTimeout = 2 * time.Minute

// Repeated commands, whose text must stay the same wherever they appear.
const (
	webRollout = "bin/mini kubectl rollout status deployment/web"
	curlWeb    = "curl -s http://$(bin/mini kubectl get svc web -o jsonpath='{.spec.clusterIP}')/"
)

// steps is the tour, in the README's order.
var steps = []step{
	{cmd: "make run", want: `mini is ready in [0-9.]+s`, timeout: 10 * time.Minute},
	{cmd: "bin/mini kubectl get nodes", want: `(?m)^\S+\s+Ready\s`},
	{cmd: "scripts/build-test-images", want: `(?s)busybox-\S+\.tar\n.*httpapp-v1-\S+\.tar\n.*httpapp-v2-\S+\.tar\n`, timeout: 5 * time.Minute},
	{cmd: "bin/mini image import ~/.cache/mini/test-images/*.tar", want: `(?s)Loaded image: docker.io/library/busybox:latest\n.*Loaded image: mini.dev/test/httpapp:v1\n.*Loaded image: mini.dev/test/httpapp:v2\n`},
	{cmd: "bin/mini kubectl create deployment web --image=mini.dev/test/httpapp:v1 --replicas=2", want: `^deployment.apps/web created\n$`},
	{cmd: webRollout, want: `deployment "web" successfully rolled out\n$`},
	{cmd: "bin/mini kubectl expose deployment web --port=80 --target-port=8080", want: `^service/web exposed\n$`},
	{cmd: curlWeb, want: `^v1 web-[a-z0-9]+-[a-z0-9]+\n$`, settles: true},
	{cmd: "bin/mini kubectl scale deployment/web --replicas=3", want: `^deployment.apps/web scaled\n$`},
	{cmd: webRollout, want: `deployment "web" successfully rolled out\n$`},
	{cmd: "bin/mini kubectl set image deployment/web httpapp=mini.dev/test/httpapp:v2", want: `^deployment.apps/web image updated\n$`},
	{cmd: webRollout, want: `deployment "web" successfully rolled out\n$`},
	{cmd: curlWeb, want: `^v2 web-[a-z0-9]+-[a-z0-9]+\n$`, settles: true},
	{cmd: "bin/mini kubectl rollout history deployment/web", want: `(?m)^REVISION\s+CHANGE-CAUSE\n1\s+<none>\n2\s+<none>\n`},
	{cmd: "bin/mini kubectl rollout undo deployment/web", want: `^deployment.apps/web rolled back\n$`},
	{cmd: webRollout, want: `deployment "web" successfully rolled out\n$`},
	{cmd: curlWeb, want: `^v1 web-[a-z0-9]+-[a-z0-9]+\n$`, settles: true},
	{cmd: "bin/mini kubectl logs deployment/web", want: `httpapp v1 listening on :8080`},
	{cmd: "bin/mini kubectl exec deployment/web -- hostname", want: `^web-[a-z0-9]+-[a-z0-9]+\n$`},
	{cmd: "bin/mini kubectl apply -f testdata/tour/app.yaml", want: `^configmap/hello created\ndeployment.apps/hello created\nservice/hello created\n$`},
	{cmd: "bin/mini kubectl rollout status deployment/hello", want: `deployment "hello" successfully rolled out\n$`},
	{cmd: "curl -s http://$(bin/mini kubectl get svc hello -o jsonpath='{.spec.clusterIP}')/hello.txt", want: `^Hello from a ConfigMap\n$`, settles: true},
	{cmd: "bin/mini kubectl run dns --image=busybox --image-pull-policy=IfNotPresent --restart=Never --rm -i -- nslookup hello.default.svc.cluster.local",
		want: `(?s)Name:\s+hello\.default\.svc\.cluster\.local\s+Address:\s+10\.43\.\d+\.\d+\n.*pod "dns" deleted`},
	{cmd: "bin/mini stop", want: `mini stopped \(pid \d+`},
	{cmd: "bin/mini start", want: `mini is ready in [0-9.]+s`},
	{cmd: "curl -s --retry 5 --retry-all-errors http://$(bin/mini kubectl get svc web -o jsonpath='{.spec.clusterIP}')/", want: `(?m)^v1 web-[a-z0-9]+-[a-z0-9]+$`, settles: true},
	{cmd: "bin/mini status", want: `(?s)^mini is running \(pid \d+, up .*\n\s+API\s+https://.*\nNODE\s+STATUS.*\n\S+\s+Ready\s`},
	{cmd: "bin/mini delete --yes", want: `(?s)^stopped mini \(pid \d+\)\n(.*\n)?deleted /tmp/tour\w+/data\n`},
}

// compiled is the step's want as a regexp.
func (s step) compiled() *regexp.Regexp { return regexp.MustCompile(s.want) }
