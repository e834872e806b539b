package apiserver

import (
	"encoding/json"
	"mime"
	"net"
	"net/http"
	"strings"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"mini.dev/mini/internal/registry"
)

// aggregatedMedia is the Content-Type of aggregated discovery; clients
// that asked for it and get another fall back to per-group discovery.
const aggregatedMedia = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

// serveDiscovery answers /api, /apis and each group version's resource
// list. It reports whether path was a discovery path.
func (s *Server) serveDiscovery(w http.ResponseWriter, r *http.Request) bool {
	parts := splitPath(r.URL.Path)
	reg := s.cfg.Registry
	switch {
	case len(parts) == 1 && parts[0] == "api":
		if wantsAggregated(r) {
			writeAggregated(w, aggregatedList(reg, true))
			return true
		}
		writeJSON(w, http.StatusOK, &metav1.APIVersions{
			TypeMeta: metav1.TypeMeta{Kind: "APIVersions"},
			Versions: []string{"v1"},
			ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{
				{ClientCIDR: "0.0.0.0/0", ServerAddress: serverAddress(r)},
			},
		})
	case len(parts) == 1 && parts[0] == "apis":
		if wantsAggregated(r) {
			writeAggregated(w, aggregatedList(reg, false))
			return true
		}
		writeJSON(w, http.StatusOK, groupList(reg))
	case len(parts) == 2 && parts[0] == "apis":
		g, ok := findGroup(groupList(reg), parts[1])
		if !ok {
			s.writeError(w, r, apierrors.NewNotFound(schema.GroupResource{}, ""))
			return true
		}
		g.Kind, g.APIVersion = "APIGroup", "v1"
		writeJSON(w, http.StatusOK, g)
	case len(parts) == 2 && parts[0] == "api", len(parts) == 3 && parts[0] == "apis":
		gv := schema.GroupVersion{Version: parts[len(parts)-1]}
		if parts[0] == "apis" {
			gv.Group = parts[1]
		}
		list, ok := resourceList(reg, gv)
		if !ok {
			s.writeError(w, r, apierrors.NewNotFound(schema.GroupResource{}, ""))
			return true
		}
		writeJSON(w, http.StatusOK, list)
	default:
		return false
	}
	return true
}

func wantsAggregated(r *http.Request) bool {
	for _, entry := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(entry))
		if err == nil && mt == mediaJSON && params["g"] == "apidiscovery.k8s.io" && params["v"] == "v2" &&
			params["as"] == "APIGroupDiscoveryList" {
			return true
		}
	}
	return false
}

func writeAggregated(w http.ResponseWriter, list *apidiscoveryv2.APIGroupDiscoveryList) {
	w.Header().Set("Content-Type", aggregatedMedia)
	w.WriteHeader(http.StatusOK)
	json.NewEncoder(w).Encode(list)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", mediaJSON)
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// serverAddress is the address the client reached us at.
func serverAddress(r *http.Request) string {
	if _, _, err := net.SplitHostPort(r.Host); err == nil {
		return r.Host
	}
	return net.JoinHostPort(r.Host, "443")
}

// groupList is /apis: every group but the core one.
func groupList(reg *registry.Registry) *metav1.APIGroupList {
	list := &metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}}
	for _, gv := range reg.GroupVersions() {
		if gv.Group == "" {
			continue
		}
		v := metav1.GroupVersionForDiscovery{GroupVersion: gv.String(), Version: gv.Version}
		if i := groupIndex(list, gv.Group); i >= 0 {
			list.Groups[i].Versions = append(list.Groups[i].Versions, v)
			continue
		}
		list.Groups = append(list.Groups, metav1.APIGroup{Name: gv.Group, Versions: []metav1.GroupVersionForDiscovery{v}, PreferredVersion: v})
	}
	return list
}

func groupIndex(list *metav1.APIGroupList, name string) int {
	for i, g := range list.Groups {
		if g.Name == name {
			return i
		}
	}
	return -1
}

func findGroup(list *metav1.APIGroupList, name string) (*metav1.APIGroup, bool) {
	if i := groupIndex(list, name); i >= 0 {
		return &list.Groups[i], true
	}
	return nil, false
}

// subresourceVerbs are the verbs of a subresource, as upstream lists them.
func subresourceVerbs(sub string) []string {
	switch sub {
	case "status", "scale":
		return []string{"get", "patch", "update"}
	case "finalize":
		return []string{"update"}
	case "binding", "eviction", "token":
		return []string{"create"}
	case "exec", "attach", "portforward":
		return []string{"create", "get"}
	}
	return []string{"get"}
}

// subresourceKind is the kind a subresource reads and writes, as upstream
// reports it: the resource's own kind, or that of a request object.
func subresourceKind(r *registry.Resource, sub string) schema.GroupVersionKind {
	switch sub {
	case "scale":
		return schema.GroupVersionKind{Group: "autoscaling", Version: "v1", Kind: "Scale"}
	case "binding":
		return schema.GroupVersionKind{Version: "v1", Kind: "Binding"}
	case "eviction":
		return schema.GroupVersionKind{Group: "policy", Version: "v1", Kind: "Eviction"}
	case "token":
		return schema.GroupVersionKind{Group: "authentication.k8s.io", Version: "v1", Kind: "TokenRequest"}
	case "exec":
		return schema.GroupVersionKind{Version: "v1", Kind: "PodExecOptions"}
	case "attach":
		return schema.GroupVersionKind{Version: "v1", Kind: "PodAttachOptions"}
	case "portforward":
		return schema.GroupVersionKind{Version: "v1", Kind: "PodPortForwardOptions"}
	}
	return r.GroupVersionKind()
}

// resourceList is a group version's resources, subresources included.
func resourceList(reg *registry.Registry, gv schema.GroupVersion) (*metav1.APIResourceList, bool) {
	list := &metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: gv.String()}
	found := false
	for _, r := range reg.Resources() {
		if r.GVR.GroupVersion() != gv {
			continue
		}
		found = true
		list.APIResources = append(list.APIResources, metav1.APIResource{
			Name: r.GVR.Resource, SingularName: r.SingularName, Namespaced: r.Namespaced, Kind: r.Kind,
			Verbs: r.Verbs(), ShortNames: r.ShortNames, Categories: r.Categories,
		})
		for _, sub := range r.Subresources {
			kind := subresourceKind(r, sub)
			api := metav1.APIResource{Name: r.GVR.Resource + "/" + sub, Namespaced: r.Namespaced, Kind: kind.Kind, Verbs: subresourceVerbs(sub)}
			if kind.GroupVersion() != gv { // named only when not the parent's
				api.Group, api.Version = kind.Group, kind.Version
			}
			list.APIResources = append(list.APIResources, api)
		}
	}
	return list, found
}

// aggregatedList is the aggregated discovery document of the core group
// (core true) or of every other group.
func aggregatedList(reg *registry.Registry, core bool) *apidiscoveryv2.APIGroupDiscoveryList {
	list := &apidiscoveryv2.APIGroupDiscoveryList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupDiscoveryList", APIVersion: "apidiscovery.k8s.io/v2"}}
	for _, gv := range reg.GroupVersions() {
		if (gv.Group == "") != core {
			continue
		}
		version := apidiscoveryv2.APIVersionDiscovery{Version: gv.Version, Freshness: apidiscoveryv2.DiscoveryFreshnessCurrent}
		for _, r := range reg.Resources() {
			if r.GVR.GroupVersion() != gv {
				continue
			}
			scope := apidiscoveryv2.ScopeCluster
			if r.Namespaced {
				scope = apidiscoveryv2.ScopeNamespace
			}
			kind := &metav1.GroupVersionKind{Group: gv.Group, Version: gv.Version, Kind: r.Kind}
			res := apidiscoveryv2.APIResourceDiscovery{
				Resource: r.GVR.Resource, ResponseKind: kind, Scope: scope, SingularResource: r.SingularName,
				Verbs: r.Verbs(), ShortNames: r.ShortNames, Categories: r.Categories,
			}
			for _, sub := range r.Subresources {
				res.Subresources = append(res.Subresources, apidiscoveryv2.APISubresourceDiscovery{
					Subresource: sub, ResponseKind: gvkOf(subresourceKind(r, sub)), Verbs: subresourceVerbs(sub),
				})
			}
			version.Resources = append(version.Resources, res)
		}
		i := len(list.Items) - 1
		if i < 0 || list.Items[i].Name != gv.Group {
			list.Items = append(list.Items, apidiscoveryv2.APIGroupDiscovery{ObjectMeta: metav1.ObjectMeta{Name: gv.Group}})
			i++
		}
		list.Items[i].Versions = append(list.Items[i].Versions, version)
	}
	return list
}

func gvkOf(k schema.GroupVersionKind) *metav1.GroupVersionKind {
	return &metav1.GroupVersionKind{Group: k.Group, Version: k.Version, Kind: k.Kind}
}
