package serviceaccount

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
)

func namespace(name string, phase corev1.NamespacePhase) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NamespaceStatus{Phase: phase}}
}

func account(ns, name string) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
}

func TestSync(t *testing.T) {
	tests := []struct {
		name       string
		ns         *corev1.Namespace
		accounts   []*corev1.ServiceAccount
		wantCreate bool
	}{
		{"missing default is created", namespace("a", corev1.NamespaceActive), nil, true},
		{"other accounts do not count", namespace("a", corev1.NamespaceActive), []*corev1.ServiceAccount{account("a", "builder")}, true},
		{"existing default is left alone", namespace("a", corev1.NamespaceActive), []*corev1.ServiceAccount{account("a", "default")}, false},
		{"terminating namespace is skipped", namespace("a", corev1.NamespaceTerminating), nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs := []runtime.Object{tt.ns}
			for _, sa := range tt.accounts {
				objs = append(objs, sa)
			}
			client := fake.NewClientset(objs...)
			factory := informers.NewSharedInformerFactory(client, 0)
			c, err := New(Config{Client: client, Informers: factory})
			if err != nil {
				t.Fatal(err)
			}
			if err := factory.Core().V1().Namespaces().Informer().GetIndexer().Add(tt.ns); err != nil {
				t.Fatal(err)
			}
			for _, sa := range tt.accounts {
				if err := factory.Core().V1().ServiceAccounts().Informer().GetIndexer().Add(sa); err != nil {
					t.Fatal(err)
				}
			}
			client.ClearActions()
			if err := c.sync(context.Background(), "a"); err != nil {
				t.Fatal(err)
			}
			created := false
			for _, a := range client.Actions() {
				if a.GetVerb() == "create" && a.GetResource().Resource == "serviceaccounts" {
					created = true
				}
			}
			if created != tt.wantCreate {
				t.Errorf("created = %v, want %v", created, tt.wantCreate)
			}
			if tt.wantCreate {
				if _, err := client.CoreV1().ServiceAccounts("a").Get(context.Background(), "default", metav1.GetOptions{}); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// TestRecreatedAfterDeletion runs the controller on live informers.
func TestRecreatedAfterDeletion(t *testing.T) {
	client := fake.NewClientset(namespace("a", corev1.NamespaceActive))
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := New(Config{Client: client, Informers: factory})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	factory.Start(ctx.Done())
	go func() { done <- c.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		factory.Shutdown()
	}()

	sas := client.CoreV1().ServiceAccounts("a")
	exists := func() bool { _, err := sas.Get(ctx, "default", metav1.GetOptions{}); return err == nil }
	waitFor(t, exists)
	if err := sas.Delete(ctx, "default", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, exists)

	if _, err := client.CoreV1().Namespaces().Create(ctx, namespace("b", corev1.NamespaceActive), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		_, err := client.CoreV1().ServiceAccounts("b").Get(ctx, "default", metav1.GetOptions{})
		return err == nil
	})
}

// waitFor polls cond until it holds or ten seconds pass.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 10*time.Millisecond, 10*time.Second, true,
		func(context.Context) (bool, error) { return cond(), nil })
	if err != nil {
		t.Fatal("condition not met in time")
	}
}
