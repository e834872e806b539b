package apiserver

import (
	"net/http"
	"testing"
)

func TestParseResourcePath(t *testing.T) {
	tests := []struct {
		method, path string
		watch        bool
		want         string // verb group/version/resource ns name sub
	}{
		{"GET", "/api/v1/pods", false, "list /v1/pods   "},
		{"GET", "/api/v1/namespaces/default/pods", true, "watch /v1/pods default  "},
		{"GET", "/api/v1/namespaces/default/pods/web", false, "get /v1/pods default web "},
		{"POST", "/api/v1/namespaces/default/pods/web/binding", false, "create /v1/pods default web binding"},
		{"GET", "/api/v1/namespaces/default", false, "get /v1/namespaces  default "},
		{"PUT", "/api/v1/namespaces/default/status", false, "update /v1/namespaces  default status"},
		{"PUT", "/api/v1/namespaces/team-a/finalize", false, "update /v1/namespaces  team-a finalize"},
		{"PATCH", "/apis/apps/v1/namespaces/x/deployments/web/scale", false, "patch apps/v1/deployments x web scale"},
		{"DELETE", "/apis/apps/v1/namespaces/x/deployments", false, "deletecollection apps/v1/deployments x  "},
		{"GET", "/api/v1/namespaces/default/serviceaccounts/default/token", false, "get /v1/serviceaccounts default default token"},
	}
	for _, tt := range tests {
		info, ok := parseResourcePath(tt.method, tt.path, tt.watch)
		got := info.Verb + " " + info.GVR.Group + "/" + info.GVR.Version + "/" + info.GVR.Resource + " " + info.Namespace + " " + info.Name + " " + info.Subresource
		if !ok || got != tt.want {
			t.Errorf("%s %s = %q (%v), want %q", tt.method, tt.path, got, ok, tt.want)
		}
	}
	if _, ok := parseResourcePath(http.MethodGet, "/healthz", false); ok {
		t.Error("/healthz parsed as a resource")
	}
}
