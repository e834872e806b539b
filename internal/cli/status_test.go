package cli

import (
	"bytes"
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestToNodeStatus(t *testing.T) {
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "n1", Labels: map[string]string{
			"node-role.kubernetes.io/control-plane": "true", "node-role.kubernetes.io/master": "", "other": "x"}},
		Spec: corev1.NodeSpec{Unschedulable: true},
		Status: corev1.NodeStatus{
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
			Addresses:  []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: "n1"}, {Type: corev1.NodeInternalIP, Address: "10.0.0.5"}},
			NodeInfo:   corev1.NodeSystemInfo{KubeletVersion: "v1.37.2"},
		},
	}
	got := toNodeStatus(node)
	want := nodeStatus{Name: "n1", Ready: true, Status: "Ready,SchedulingDisabled", Roles: []string{"control-plane", "master"},
		Version: "v1.37.2", InternalIP: "10.0.0.5",
		Addresses: []nodeAddress{{"Hostname", "n1"}, {"InternalIP", "10.0.0.5"}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("toNodeStatus =\n%+v, want\n%+v", got, want)
	}
	if s := toNodeStatus(&corev1.Node{}); s.Status != "Unknown" || s.Ready || s.Roles == nil || s.Addresses == nil {
		t.Errorf("a node without status: %+v", s)
	}
}

// TestStatusJSONShape pins the field names scripts read.
func TestStatusJSONShape(t *testing.T) {
	r := statusReport{Running: true, PID: 1, Uptime: "1s", DataDir: "/d", Log: "/d/mini.log", Flags: []string{"--data-dir=/d"},
		API: &apiStatus{URL: "https://127.0.0.1:6443", Ready: true}, Version: versionStatus{Mini: "v1", Kubernetes: "v1.37.2"},
		Nodes:      []nodeStatus{toNodeStatus(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n"}})},
		Components: []componentHealth{{Name: "etcd-0", Healthy: true, Message: "ok"}}}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"":           {"api", "components", "dataDir", "flags", "log", "nodes", "pid", "running", "uptime", "version"},
		"api":        {"ready", "url"},
		"version":    {"kubernetes", "mini"},
		"nodes":      {"addresses", "name", "ready", "roles", "status", "version"},
		"components": {"healthy", "message", "name"},
	}
	for field, keys := range want {
		obj := m
		if field != "" {
			switch v := m[field].(type) {
			case map[string]any:
				obj = v
			case []any:
				obj = v[0].(map[string]any)
			}
		}
		var got []string
		for k := range obj {
			got = append(got, k)
		}
		sort.Strings(got)
		if !reflect.DeepEqual(got, keys) {
			t.Errorf("%q has fields %q, want %q", field, got, keys)
		}
	}
	// Not running: only what is known.
	b, _ = json.Marshal(statusReport{DataDir: "/d", Log: "/d/mini.log", Version: versionStatus{Mini: "v1"}})
	if string(b) != `{"running":false,"dataDir":"/d","log":"/d/mini.log","version":{"mini":"v1"}}` {
		t.Errorf("not running: %s", b)
	}
}

func TestPrintStatus(t *testing.T) {
	var b bytes.Buffer
	printStatus(&b, statusReport{DataDir: "/d"})
	if b.String() != "mini is not running (data dir /d)\n" {
		t.Errorf("not running: %q", b.String())
	}
	b.Reset()
	printStatus(&b, statusReport{Running: true, PID: 7, Uptime: "3s", DataDir: "/d", API: &apiStatus{URL: "https://x", Ready: true},
		Nodes: []nodeStatus{{Name: "n1", Status: "Ready", Version: "v1", InternalIP: "10.0.0.1"}}})
	for _, want := range []string{"mini is running (pid 7, up 3s)", "https://x (ready)", "n1 ", "<none>", "10.0.0.1"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, b.String())
		}
	}
}
