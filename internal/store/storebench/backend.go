package main

import (
	"context"
	"errors"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"

	"mini.dev/mini/internal/store"
)

// backend is the handful of operations the workloads need, implemented the
// same way the API server would use each store.
type backend interface {
	// create stores key only if it does not exist yet, durably.
	create(ctx context.Context, key string, val []byte) error
	get(ctx context.Context, key string) error
	// list reads every key under prefix in one request and counts them.
	list(ctx context.Context, prefix string) (int, error)
	// load fills keys fast (batched where the store allows); not measured.
	load(ctx context.Context, keys []string, val func(i int) []byte) error
	// watch returns once a watch on prefix is established; fn then gets every
	// event's value in order from one goroutine, and fail a premature end.
	watch(ctx context.Context, prefix string, fn func(val []byte), fail func(error)) error
}

type miniBackend struct{ s *store.Store }

func (m miniBackend) create(ctx context.Context, key string, val []byte) error {
	_, err := m.s.Create(ctx, key, val)
	return err
}

func (m miniBackend) get(ctx context.Context, key string) error {
	_, err := m.s.Get(ctx, key)
	return err
}

func (m miniBackend) list(ctx context.Context, prefix string) (int, error) {
	res, err := m.s.List(ctx, prefix, store.ListOptions{})
	return len(res.KVs), err
}

// load uses concurrent creates: mini has no batch API, but its committer
// groups concurrent writes into one transaction.
func (m miniBackend) load(ctx context.Context, keys []string, val func(i int) []byte) error {
	_, err := runOps(ctx, 64, len(keys), func(ctx context.Context, i int) error {
		return m.create(ctx, keys[i], val(i))
	})
	return err
}

func (m miniBackend) watch(ctx context.Context, prefix string, fn func([]byte), fail func(error)) error {
	w, err := m.s.Watch(ctx, prefix, m.s.Revision())
	if err != nil {
		return err
	}
	go func() {
		for ev := range w.Events() {
			fn(ev.KV.Value)
		}
		if err := w.Err(); err != nil {
			fail(err)
		}
	}()
	return nil
}

type etcdBackend struct{ c *clientv3.Client }

// create is a transaction guarded by CreateRevision == 0, which is how the
// API server creates objects, so both stores do a real create.
func (e etcdBackend) create(ctx context.Context, key string, val []byte) error {
	resp, err := e.c.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, string(val))).
		Commit()
	if err == nil && !resp.Succeeded {
		err = fmt.Errorf("etcd: %s already exists", key)
	}
	return err
}

// get is linearizable (the client's default), as the API server's reads are.
func (e etcdBackend) get(ctx context.Context, key string) error {
	resp, err := e.c.Get(ctx, key)
	if err == nil && len(resp.Kvs) != 1 {
		err = fmt.Errorf("etcd: %s not found", key)
	}
	return err
}

func (e etcdBackend) list(ctx context.Context, prefix string) (int, error) {
	resp, err := e.c.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return 0, err
	}
	return len(resp.Kvs), nil
}

// load puts 100 keys per transaction: well under etcd's default limits of
// 128 operations and 1.5 MiB per request.
func (e etcdBackend) load(ctx context.Context, keys []string, val func(i int) []byte) error {
	const batch = 100
	for lo := 0; lo < len(keys); lo += batch {
		var ops []clientv3.Op
		for i := lo; i < min(lo+batch, len(keys)); i++ {
			ops = append(ops, clientv3.OpPut(keys[i], string(val(i))))
		}
		if _, err := e.c.Txn(ctx).Then(ops...).Commit(); err != nil {
			return err
		}
	}
	return nil
}

// watch waits for the server's created notification, so no event can be
// missed and setup time does not count as delivery latency.
func (e etcdBackend) watch(ctx context.Context, prefix string, fn func([]byte), fail func(error)) error {
	wch := e.c.Watch(ctx, prefix, clientv3.WithPrefix(), clientv3.WithCreatedNotify())
	first, ok := <-wch
	if !ok || !first.Created {
		return errors.Join(errors.New("etcd: watch not created"), first.Err())
	}
	go func() {
		for resp := range wch {
			if err := resp.Err(); err != nil {
				if ctx.Err() == nil {
					fail(err)
				}
				return
			}
			for _, ev := range resp.Events {
				fn(ev.Kv.Value)
			}
		}
	}()
	return nil
}
