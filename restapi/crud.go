package restapi

import (
	"context"
	"net/http"
)

// The get, update and remove handlers of the plain entities (data centers,
// clusters, networks, profiles, MAC pools) differ only in what they load,
// apply, save and render; these build them.

type loader[T any] func(ctx context.Context, id string) (T, error)

func getOne[T any](s *Server, load loader[T], render func(*request, T) *node) handler {
	return func(q *request) error {
		v, err := load(q.ctx(), q.r.PathValue("id"))
		if err != nil {
			return err
		}
		q.write(http.StatusOK, render(q, v))
		return nil
	}
}

// updateOne merges the body into the stored entity (oVirt's PUT semantics)
// inside the engine's transaction, so that concurrent edits are not lost.
func updateOne[T any](apply func(*request, *in, T) error,
	save func(context.Context, string, func(T) error) (T, error), render func(*request, T) *node) handler {
	return func(q *request) error {
		b, err := q.body()
		if err != nil {
			return err
		}
		v, err := save(q.ctx(), q.r.PathValue("id"), func(v T) error { return apply(q, b, v) })
		if err != nil {
			return err
		}
		q.write(http.StatusOK, render(q, v))
		return nil
	}
}

func removeOne(remove func(context.Context, string) error) handler {
	return func(q *request) error {
		if err := remove(q.ctx(), q.r.PathValue("id")); err != nil {
			return err
		}
		q.done()
		return nil
	}
}

// withoutRequest adapts an apply function that needs no request.
func withoutRequest[T any](apply func(*in, T) error) func(*request, *in, T) error {
	return func(_ *request, b *in, v T) error { return apply(b, v) }
}
