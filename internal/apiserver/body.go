package apiserver

import (
	stdjson "encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	"sigs.k8s.io/yaml"

	"mini.dev/mini/internal/registry"
)

// maxBodyBytes is kube-apiserver's request size limit.
const maxBodyBytes = 3 << 20

// readBody reads a request body up to the limit; past it the answer is 413.
func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("reading the request body: %v", err))
	}
	if len(b) > maxBodyBytes {
		return nil, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("limit is %d", maxBodyBytes))
	}
	return b, nil
}

// fieldValidation is the fieldValidation query parameter: what to do with
// unknown and duplicate fields. Upstream's default is Warn.
func fieldValidation(r *http.Request) (string, error) {
	switch v := r.URL.Query().Get("fieldValidation"); v {
	case "", metav1.FieldValidationWarn:
		return metav1.FieldValidationWarn, nil
	case metav1.FieldValidationStrict, metav1.FieldValidationIgnore:
		return v, nil
	default:
		return "", apierrors.NewBadRequest(fmt.Sprintf("fieldValidation must be one of Ignore, Warn or Strict, not %q", v))
	}
}

// decodeBody decodes a JSON, YAML or protobuf body into a new object of the
// resource's kind. The body's apiVersion and kind, when given, must be the
// resource's. Unknown and duplicate fields are refused, warned about or
// ignored as fieldValidation says.
func (s *Server) decodeBody(w http.ResponseWriter, r *http.Request, res *registry.Resource, body []byte) (runtime.Object, error) {
	validation, err := fieldValidation(r)
	if err != nil {
		return nil, err
	}
	mediaType := mediaJSON
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mediaType, _, err = mime.ParseMediaType(ct); err != nil {
			return nil, unsupportedMediaType(ct)
		}
	}
	obj := res.New()
	switch mediaType {
	case mediaProtobuf:
		gvk := res.GroupVersionKind()
		if _, _, err := s.codecs.protobuf.Decode(body, &gvk, obj); err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		return obj, checkKind(res, obj.GetObjectKind().GroupVersionKind())
	case mediaYAML:
		if body, err = yaml.YAMLToJSON(body); err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid YAML: %v", err))
		}
	case mediaJSON:
	default:
		return nil, unsupportedMediaType(mediaType)
	}
	return obj, s.decodeJSON(w, res, body, obj, validation)
}

// decodeJSON decodes JSON into obj, applying fieldValidation.
func (s *Server) decodeJSON(w http.ResponseWriter, res *registry.Resource, body []byte, obj runtime.Object, validation string) error {
	gvk, err := json.DefaultMetaFactory.Interpret(body)
	if err != nil {
		return apierrors.NewBadRequest(fmt.Sprintf("the body of the request was in an unknown format - accepted media types include: %s, %s, %s", mediaJSON, mediaYAML, mediaProtobuf))
	}
	if err := checkKind(res, *gvk); err != nil {
		return err
	}
	want := res.GroupVersionKind()
	decoder := s.codecs.json
	if validation != metav1.FieldValidationIgnore {
		decoder = s.codecs.strict
	}
	_, _, err = decoder.Decode(body, &want, obj)
	if strict, ok := runtime.AsStrictDecodingError(err); ok {
		if validation == metav1.FieldValidationStrict {
			return apierrors.NewBadRequest(err.Error())
		}
		for _, e := range strict.Errors() {
			w.Header().Add("Warning", fmt.Sprintf(`299 - %q`, e))
		}
		return nil
	}
	if err != nil {
		return apierrors.NewBadRequest(err.Error())
	}
	return nil
}

// checkKind refuses a body whose apiVersion or kind is not the resource's;
// empty ones are the resource's.
func checkKind(res *registry.Resource, got schema.GroupVersionKind) error {
	want := res.GroupVersionKind()
	if got.Kind != "" && got.Kind != want.Kind {
		return apierrors.NewBadRequest(fmt.Sprintf("the kind in the data (%s) does not match the expected kind (%s)", got.Kind, want.Kind))
	}
	if gv := got.GroupVersion(); gv != (schema.GroupVersion{}) && gv != want.GroupVersion() {
		return apierrors.NewBadRequest(fmt.Sprintf("the API version in the data (%s) does not match the expected API version (%s)",
			gv.String(), want.GroupVersion().String()))
	}
	return nil
}

// dryRun reads the dryRun parameter: only "All" is defined.
func dryRun(r *http.Request) (bool, error) {
	values := r.URL.Query()["dryRun"]
	for _, v := range values {
		if v != metav1.DryRunAll {
			return false, apierrors.NewBadRequest(fmt.Sprintf("dryRun: unsupported value %q, supported values: %q", v, metav1.DryRunAll))
		}
	}
	return len(values) > 0, nil
}

// mediaTypeOf is the media type of the request body, without parameters.
func mediaTypeOf(r *http.Request) string {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return strings.ToLower(mt)
}

// unsupportedMediaType is upstream's 415 for a body it cannot read.
func unsupportedMediaType(mediaType string, accepted ...string) error {
	if len(accepted) == 0 {
		accepted = []string{mediaJSON, mediaYAML, mediaProtobuf}
	}
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure,
		Code:   http.StatusUnsupportedMediaType,
		Reason: metav1.StatusReasonUnsupportedMediaType,
		Message: fmt.Sprintf("the body of the request was in an unknown format %q - accepted media types include: %s",
			mediaType, strings.Join(accepted, ", ")),
	}}
}

// decodeOptions decodes an options body (DeleteOptions) of any of the
// media types, as clients send them: client-go sends protobuf.
func (s *Server) decodeOptions(r *http.Request, body []byte, into runtime.Object) error {
	var err error
	switch mediaTypeOf(r) {
	case mediaProtobuf:
		_, _, err = s.codecs.protobuf.Decode(body, nil, into)
	case mediaYAML:
		if body, err = yaml.YAMLToJSON(body); err == nil {
			err = stdjson.Unmarshal(body, into)
		}
	default:
		err = stdjson.Unmarshal(body, into)
	}
	if err != nil {
		return apierrors.NewBadRequest(fmt.Sprintf("invalid %T: %v", into, err))
	}
	return nil
}

// readObject reads what a create or update sends: its body, decoded as an
// object of the resource's kind, and its write options.
func (s *Server) readObject(w http.ResponseWriter, r *http.Request, res *registry.Resource) (runtime.Object, writeOptions, error) {
	body, opts, err := readWrite(r)
	if err != nil {
		return nil, writeOptions{}, err
	}
	obj, err := s.decodeBody(w, r, res, body)
	return obj, opts, err
}

// readWrite reads what every write sends: its body and its options.
func readWrite(r *http.Request) ([]byte, writeOptions, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, writeOptions{}, err
	}
	opts, err := parseWriteOptions(r)
	return body, opts, err
}
