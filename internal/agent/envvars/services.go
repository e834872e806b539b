package envvars

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// masterService is the API server's service in the default namespace,
// whose variables every pod gets, even with enableServiceLinks=false.
const masterService = "kubernetes"

// serviceEnv returns the service link variables for a pod in namespace,
// as kubelet's getServiceEnvVarMap: the pod's namespace's services when
// links are enabled, plus default/kubernetes always.
func serviceEnv(ctx context.Context, g Getter, namespace string, enableLinks bool) (map[string]string, error) {
	byName := map[string]*corev1.Service{}
	defaults, err := g.Services(ctx, metav1.NamespaceDefault)
	if err != nil {
		return nil, err
	}
	for _, s := range defaults {
		if s.Name == masterService && isServiceIPSet(s) {
			byName[s.Name] = s
		}
	}
	if enableLinks {
		own := defaults
		if namespace != metav1.NamespaceDefault {
			if own, err = g.Services(ctx, namespace); err != nil {
				return nil, err
			}
		}
		for _, s := range own {
			if !isServiceIPSet(s) {
				continue
			}
			if _, taken := byName[s.Name]; taken && s.Namespace != metav1.NamespaceDefault {
				continue // the master service wins over a same-named one
			}
			byName[s.Name] = s
		}
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	env := map[string]string{}
	for _, n := range names {
		for _, kv := range serviceVariables(byName[n]) {
			env[kv[0]] = kv[1]
		}
	}
	return env, nil
}

// isServiceIPSet is false for headless and ExternalName services, which
// get no variables.
func isServiceIPSet(s *corev1.Service) bool {
	return s.Spec.ClusterIP != "" && s.Spec.ClusterIP != corev1.ClusterIPNone
}

func envName(s string) string { return strings.ToUpper(strings.ReplaceAll(s, "-", "_")) }

// serviceVariables is kubelet's envvars.FromServices for one service:
// NAME_SERVICE_HOST, NAME_SERVICE_PORT[_PORTNAME] and the Docker link
// variables NAME_PORT, NAME_PORT_<port>_<PROTO>[_PROTO|_PORT|_ADDR].
func serviceVariables(s *corev1.Service) [][2]string {
	if len(s.Spec.Ports) == 0 {
		return nil
	}
	prefix := envName(s.Name)
	ip := s.Spec.ClusterIP
	out := [][2]string{
		{prefix + "_SERVICE_HOST", ip},
		{prefix + "_SERVICE_PORT", strconv.Itoa(int(s.Spec.Ports[0].Port))},
	}
	for _, p := range s.Spec.Ports {
		if p.Name != "" {
			out = append(out, [2]string{prefix + "_SERVICE_PORT_" + envName(p.Name), strconv.Itoa(int(p.Port))})
		}
	}
	for i, p := range s.Spec.Ports {
		proto := string(corev1.ProtocolTCP)
		if p.Protocol != "" {
			proto = string(p.Protocol)
		}
		lower := strings.ToLower(proto)
		url := fmt.Sprintf("%s://%s", lower, net.JoinHostPort(ip, strconv.Itoa(int(p.Port))))
		if i == 0 {
			out = append(out, [2]string{prefix + "_PORT", url})
		}
		pp := fmt.Sprintf("%s_PORT_%d_%s", prefix, p.Port, strings.ToUpper(proto))
		out = append(out,
			[2]string{pp, url},
			[2]string{pp + "_PROTO", lower},
			[2]string{pp + "_PORT", strconv.Itoa(int(p.Port))},
			[2]string{pp + "_ADDR", ip},
		)
	}
	return out
}
