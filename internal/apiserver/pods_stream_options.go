package apiserver

import (
	"fmt"
	"net/url"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// parsePodLogOptions reads corev1.PodLogOptions from a query.
func parsePodLogOptions(q url.Values) (*corev1.PodLogOptions, error) {
	opts := &corev1.PodLogOptions{Container: q.Get("container")}
	p := queryParser{q: q}
	opts.Follow = p.bool("follow")
	opts.Previous = p.bool("previous")
	opts.Timestamps = p.bool("timestamps")
	opts.InsecureSkipTLSVerifyBackend = p.bool("insecureSkipTLSVerifyBackend")
	opts.SinceSeconds = p.int64("sinceSeconds")
	opts.TailLines = p.int64("tailLines")
	opts.LimitBytes = p.int64("limitBytes")
	if v := q.Get("sinceTime"); v != "" && p.err == nil {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			p.err = apierrors.NewBadRequest(fmt.Sprintf("sinceTime: invalid value %q: %v", v, err))
		} else {
			mt := metav1.NewTime(t)
			opts.SinceTime = &mt
		}
	}
	if v := q.Get("stream"); v != "" {
		opts.Stream = &v
	}
	return opts, p.err
}

// validatePodLogOptions is upstream's ValidatePodLogOptions.
func validatePodLogOptions(opts *corev1.PodLogOptions) field.ErrorList {
	var errs field.ErrorList
	if opts.TailLines != nil && *opts.TailLines < 0 {
		errs = append(errs, field.Invalid(field.NewPath("tailLines"), *opts.TailLines, "must be greater than or equal to 0"))
	}
	if opts.LimitBytes != nil && *opts.LimitBytes < 1 {
		errs = append(errs, field.Invalid(field.NewPath("limitBytes"), *opts.LimitBytes, "must be greater than 0"))
	}
	switch {
	case opts.SinceSeconds != nil && opts.SinceTime != nil:
		errs = append(errs, field.Forbidden(field.NewPath(""), "at most one of `sinceTime` or `sinceSeconds` may be specified"))
	case opts.SinceSeconds != nil && *opts.SinceSeconds < 1:
		errs = append(errs, field.Invalid(field.NewPath("sinceSeconds"), *opts.SinceSeconds, "must be greater than 0"))
	}
	if opts.Stream != nil {
		switch *opts.Stream {
		case corev1.LogStreamStdout, corev1.LogStreamStderr, corev1.LogStreamAll:
		default:
			errs = append(errs, field.NotSupported(field.NewPath("stream"), *opts.Stream, []string{corev1.LogStreamStdout, corev1.LogStreamStderr, corev1.LogStreamAll}))
		}
		if *opts.Stream != corev1.LogStreamAll && opts.TailLines != nil {
			errs = append(errs, field.Forbidden(field.NewPath(""), "`tailLines` and specific `stream` are mutually exclusive for now"))
		}
	}
	return errs
}

// kubeletLogQuery is the kubelet's /containerLogs query for opts.
func kubeletLogQuery(opts *corev1.PodLogOptions) url.Values {
	q := url.Values{}
	if opts.Follow {
		q.Set("follow", "true")
	}
	if opts.Previous {
		q.Set("previous", "true")
	}
	if opts.Timestamps {
		q.Set("timestamps", "true")
	}
	if opts.SinceSeconds != nil {
		q.Set("sinceSeconds", strconv.FormatInt(*opts.SinceSeconds, 10))
	}
	if opts.SinceTime != nil {
		q.Set("sinceTime", opts.SinceTime.Format(time.RFC3339))
	}
	if opts.TailLines != nil {
		q.Set("tailLines", strconv.FormatInt(*opts.TailLines, 10))
	}
	if opts.LimitBytes != nil {
		q.Set("limitBytes", strconv.FormatInt(*opts.LimitBytes, 10))
	}
	if opts.Stream != nil {
		q.Set("stream", *opts.Stream)
	}
	return q
}

// streamOptions are corev1.PodExecOptions and PodAttachOptions.
type streamOptions struct {
	container                  string
	stdin, stdout, stderr, tty bool
	command                    []string
}

func parseStreamOptions(q url.Values) (streamOptions, error) {
	p := queryParser{q: q}
	o := streamOptions{
		container: q.Get("container"),
		stdin:     p.bool("stdin"),
		stdout:    p.bool("stdout"),
		stderr:    p.bool("stderr"),
		tty:       p.bool("tty"),
		command:   q["command"],
	}
	return o, p.err
}

// kubeletQuery is upstream's streamParams: the kubelet's names for the
// streams (input, output, error, tty) and the command.
func (o streamOptions) kubeletQuery(withCommand bool) url.Values {
	q := url.Values{}
	for name, on := range map[string]bool{"input": o.stdin, "output": o.stdout, "error": o.stderr, "tty": o.tty} {
		if on {
			q.Set(name, "1")
		}
	}
	if withCommand {
		q["command"] = o.command
	}
	return q
}

// queryParser reads typed query parameters, keeping the first error.
type queryParser struct {
	q   url.Values
	err error
}

func (p *queryParser) bool(name string) bool {
	v := p.q.Get(name)
	if v == "" || p.err != nil {
		return false
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		p.err = apierrors.NewBadRequest(fmt.Sprintf("%s: invalid value %q: %v", name, v, err))
	}
	return b
}

func (p *queryParser) int64(name string) *int64 {
	v := p.q.Get(name)
	if v == "" || p.err != nil {
		return nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		p.err = apierrors.NewBadRequest(fmt.Sprintf("%s: invalid value %q: %v", name, v, err))
		return nil
	}
	return &n
}
