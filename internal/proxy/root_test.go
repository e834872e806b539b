package proxy

import (
	"context"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestRulesetListsCleanly(t *testing.T) {
	requireRoot(t)
	n := newTestNet(t)
	web := svc("web", "10.43.0.20", port("http", v1.ProtocolTCP, 80, 30080), port("dns", v1.ProtocolUDP, 53, 0))
	web.Spec.Type = v1.ServiceTypeNodePort
	web.Spec.SessionAffinity = v1.ServiceAffinityClientIP
	client := fake.NewClientset(web,
		slice("web", "web-1", "http", v1.ProtocolTCP, 8080, ep{ip: "10.42.2.2", node: testNode}, ep{ip: "10.42.2.3", node: "other"}),
		slice("web", "web-2", "dns", v1.ProtocolUDP, 5353, ep{ip: "10.42.2.2", node: testNode}),
		svc("empty", "10.43.0.21", port("", v1.ProtocolSCTP, 9, 0)),
	)
	startProxy(t, n, client, nil)
	out := nft(t, n.node, "list", "ruleset")
	t.Log(out)
	for _, want := range []string{
		"ip daddr . meta l4proto . th dport vmap @service-ips",
		"10.43.0.20 . tcp . 80 : goto service-ns/web/tcp/http",
		"dnat to 10.42.2.2:8080",
		"numgen random mod 2 vmap @balance-service-ns/web/tcp/http", "0 : goto endpoint-ns/web/tcp/http__10.42.2.2/8080, 1 : goto endpoint-ns/web/tcp/http__10.42.2.3/8080",
		"10.43.0.21 . sctp . 9 : goto reject-chain",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("ruleset lacks %q", want)
		}
	}
	_ = context.Background
	_ = metav1.Now
}
