package apiserver

import (
	"net/http"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// requestInfo is what a resource request's path and method say, parsed the
// way kube-apiserver parses them:
//
//	/api/v1/namespaces/{ns}/{resource}/{name}/{subresource}
//	/apis/{group}/{version}/{resource}/{name}
//
// For /api/v1/namespaces/{name}, the namespace is the object itself.
type requestInfo struct {
	Verb        string // get, list, watch, create, update, patch, delete, deletecollection
	GVR         schema.GroupVersionResource
	Namespace   string
	Name        string
	Subresource string
}

// parseResourcePath parses path and method; ok is false for paths that are
// not resource requests (discovery, health, unknown).
func parseResourcePath(method, path string, watchParam bool) (info requestInfo, ok bool) {
	parts := splitPath(path)
	switch {
	case len(parts) >= 3 && parts[0] == "api":
		info.GVR.Version = parts[1]
		parts = parts[2:]
	case len(parts) >= 4 && parts[0] == "apis":
		info.GVR.Group, info.GVR.Version = parts[1], parts[2]
		parts = parts[3:]
	default:
		return info, false
	}
	// Namespaced paths. "namespaces/{name}" is the namespace itself, and so
	// are its own subresources (status, finalize), as upstream parses them.
	if parts[0] == "namespaces" && len(parts) >= 3 && !namespaceSubresources[parts[2]] {
		info.Namespace = parts[1]
		parts = parts[2:]
	}
	info.GVR.Resource = parts[0]
	if len(parts) >= 2 {
		info.Name = parts[1]
	}
	if len(parts) >= 3 {
		info.Subresource = strings.Join(parts[2:], "/")
	}
	if info.GVR.Resource == "namespaces" && info.Name != "" {
		info.Namespace = ""
	}
	switch method {
	case http.MethodGet, http.MethodHead:
		switch {
		case watchParam:
			info.Verb = "watch"
		case info.Name == "":
			info.Verb = "list"
		default:
			info.Verb = "get"
		}
	case http.MethodPost:
		info.Verb = "create"
	case http.MethodPut:
		info.Verb = "update"
	case http.MethodPatch:
		info.Verb = "patch"
	case http.MethodDelete:
		info.Verb = "delete"
		if info.Name == "" {
			info.Verb = "deletecollection"
		}
	default:
		return info, false
	}
	return info, true
}

// namespaceSubresources are the subresources of a namespace object.
var namespaceSubresources = map[string]bool{"status": true, "finalize": true}

func splitPath(path string) []string {
	path = strings.Trim(path, "/")
	if path == "" {
		return nil
	}
	return strings.Split(path, "/")
}
