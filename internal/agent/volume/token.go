package volume

import (
	"context"
	"fmt"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// tokens is kubelet's token manager: service-account tokens from the
// TokenRequest API, bound to their pod, kept until 80% of their lifetime
// has passed (or 24 hours), then requested again. While a refresh fails
// the old token is served as long as it is valid.
type tokens struct {
	client kubernetes.Interface
	now    func() time.Time

	mu    sync.Mutex
	cache map[tokenKey]*authenticationv1.TokenRequest
}

type tokenKey struct {
	namespace, serviceAccount, audience string
	expirationSeconds                   int64
	podUID                              types.UID
}

// maxTokenAge is when a token is refreshed however long it lives.
const maxTokenAge = 24 * time.Hour

func newTokens(client kubernetes.Interface) *tokens {
	return &tokens{client: client, now: time.Now, cache: map[tokenKey]*authenticationv1.TokenRequest{}}
}

func (t *tokens) get(ctx context.Context, pod *corev1.Pod, p *corev1.ServiceAccountTokenProjection) (string, error) {
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	exp := int64(3600) // the API's default
	if p.ExpirationSeconds != nil {
		exp = *p.ExpirationSeconds
	}
	key := tokenKey{pod.Namespace, sa, p.Audience, exp, pod.UID}
	t.mu.Lock()
	cached := t.cache[key]
	t.mu.Unlock()
	if cached != nil && !t.needsRefresh(cached) {
		return cached.Status.Token, nil
	}
	if t.client == nil {
		return "", fmt.Errorf("failed to fetch token: no API client")
	}
	var audiences []string
	if p.Audience != "" {
		audiences = []string{p.Audience}
	}
	tr, err := t.client.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, sa, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{
			Audiences:         audiences,
			ExpirationSeconds: &exp,
			BoundObjectRef: &authenticationv1.BoundObjectReference{
				APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: pod.UID,
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		if cached != nil && t.now().Before(cached.Status.ExpirationTimestamp.Time) {
			return cached.Status.Token, nil
		}
		return "", fmt.Errorf("failed to fetch token: %w", err)
	}
	if tr.Spec.ExpirationSeconds == nil {
		tr.Spec.ExpirationSeconds = &exp
	}
	if tr.Status.ExpirationTimestamp.IsZero() {
		// Without an expiry the refresh rule would ask for a new token
		// on every resync; assume the lifetime asked for.
		tr.Status.ExpirationTimestamp = metav1.NewTime(t.now().Add(time.Duration(*tr.Spec.ExpirationSeconds) * time.Second))
	}
	t.mu.Lock()
	t.cache[key] = tr
	t.mu.Unlock()
	return tr.Status.Token, nil
}

// needsRefresh: past 80% of the token's lifetime, or older than a day.
func (t *tokens) needsRefresh(tr *authenticationv1.TokenRequest) bool {
	now := t.now()
	exp := tr.Status.ExpirationTimestamp.Time
	ttl := time.Duration(*tr.Spec.ExpirationSeconds) * time.Second
	issued := exp.Add(-ttl)
	return now.After(issued.Add(maxTokenAge)) || now.After(exp.Add(-ttl/5))
}

// forget drops a pod's tokens.
func (t *tokens) forget(uid types.UID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k := range t.cache {
		if k.podUID == uid {
			delete(t.cache, k)
		}
	}
}
