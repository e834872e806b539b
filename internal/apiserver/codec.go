package apiserver

import (
	"fmt"
	"mime"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/client-go/kubernetes/scheme"
)

// Media types the API speaks.
const (
	mediaJSON     = "application/json"
	mediaYAML     = "application/yaml"
	mediaProtobuf = "application/vnd.kubernetes.protobuf"
	mediaAny      = "*/*"
)

// codecs holds the serializers for the built-in types. The scheme is
// client-go's: every built-in kind of every served version.
type codecs struct {
	scheme   *runtime.Scheme
	json     *json.Serializer
	strict   *json.Serializer
	yaml     *json.Serializer
	protobuf *protobuf.Serializer
}

func newCodecs() *codecs {
	s := scheme.Scheme
	return &codecs{
		scheme:   s,
		json:     json.NewSerializerWithOptions(json.DefaultMetaFactory, s, s, json.SerializerOptions{}),
		strict:   json.NewSerializerWithOptions(json.DefaultMetaFactory, s, s, json.SerializerOptions{Strict: true}),
		yaml:     json.NewSerializerWithOptions(json.DefaultMetaFactory, s, s, json.SerializerOptions{Yaml: true}),
		protobuf: protobuf.NewSerializer(s, s),
	}
}

// output is the negotiated shape of a response: its media type and whether
// the client asked for a Table or for metadata only.
type output struct {
	mediaType string
	as        string // "", "Table", "PartialObjectMetadata", "PartialObjectMetadataList"
}

// negotiate picks the first acceptable entry of the Accept header, as
// kube-apiserver does; an Accept header naming nothing we speak is 406.
func negotiate(r *http.Request) (output, error) {
	accept := r.Header.Get("Accept")
	if accept == "" {
		return output{mediaType: mediaJSON}, nil
	}
	for _, entry := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(entry))
		if err != nil {
			continue
		}
		out := output{mediaType: mt}
		switch mt {
		case mediaJSON, mediaYAML, mediaProtobuf:
		case mediaAny, "application/*":
			out.mediaType = mediaJSON
		default:
			continue
		}
		if as := params["as"]; as != "" {
			if params["g"] != metav1.GroupName || (params["v"] != "v1" && params["v"] != "v1beta1") {
				continue
			}
			switch as {
			case "Table", "PartialObjectMetadata", "PartialObjectMetadataList":
				out.as = as
			default:
				continue
			}
		}
		return out, nil
	}
	return output{}, apierrors.NewGenericServerResponse(http.StatusNotAcceptable, "", schema.GroupResource{}, "",
		fmt.Sprintf("only the following media types are accepted: %s, %s, %s", mediaJSON, mediaYAML, mediaProtobuf), 0, false)
}

// encoder returns the serializer for a media type.
func (c *codecs) encoder(mediaType string) runtime.Encoder {
	switch mediaType {
	case mediaYAML:
		return c.yaml
	case mediaProtobuf:
		return c.protobuf
	}
	return c.json
}

// writeRaw encodes obj, which must carry its apiVersion and kind, in the
// negotiated media type (JSON when negotiation fails: errors must reach the
// client).
func (s *Server) writeRaw(w http.ResponseWriter, r *http.Request, code int, obj runtime.Object) {
	out, err := negotiate(r)
	if err != nil {
		out = output{mediaType: mediaJSON}
	}
	if out.mediaType == mediaProtobuf && !hasProtobuf(obj) {
		out.mediaType = mediaJSON // unstructured objects have no protobuf form
	}
	w.Header().Set("Content-Type", out.mediaType)
	w.WriteHeader(code)
	if r.Method == http.MethodHead {
		return
	}
	if err := s.codecs.encoder(out.mediaType).Encode(obj, w); err != nil {
		s.log.Debug("writing a response", "path", r.URL.Path, "err", err)
	}
}

// hasProtobuf reports whether obj has a protobuf encoding: the built-in
// types do, unstructured objects and Tables do not.
func hasProtobuf(obj runtime.Object) bool {
	_, ok := obj.(interface{ Marshal() ([]byte, error) })
	return ok
}
