package rbac

import (
	"fmt"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
)

// Well-known user and group names, as upstream spells them.
const (
	GroupMasters         = "system:masters"
	GroupAuthenticated   = "system:authenticated"
	GroupUnauthenticated = "system:unauthenticated"
	GroupNodes           = "system:nodes"
	GroupMonitoring      = "system:monitoring"
	GroupServiceAccounts = "system:serviceaccounts"

	UserKubeProxy             = "system:kube-proxy"
	UserKubeControllerManager = "system:kube-controller-manager"
	UserKubeScheduler         = "system:kube-scheduler"

	serviceAccountUserPrefix  = "system:serviceaccount:"
	serviceAccountGroupPrefix = "system:serviceaccounts:"
)

// ServiceAccountUser is the user name and groups a service account
// authenticates as: "system:serviceaccount:NS:NAME" in the groups
// system:serviceaccounts and system:serviceaccounts:NS (plus
// system:authenticated, which every authenticated caller has).
func ServiceAccountUser(namespace, name string) (user string, groups []string) {
	return serviceAccountUserPrefix + namespace + ":" + name,
		[]string{GroupServiceAccounts, serviceAccountGroupPrefix + namespace, GroupAuthenticated}
}

// appliesTo returns the index of the first subject that names the user,
// one of its groups, or its service account.
func appliesTo(user string, groups []string, subjects []rbacv1.Subject, bindingNamespace string) (int, bool) {
	for i := range subjects {
		if subjectMatches(user, groups, &subjects[i], bindingNamespace) {
			return i, true
		}
	}
	return 0, false
}

// subjectMatches is upstream's appliesToUser. A ServiceAccount subject
// without a namespace means the binding's own namespace; in a cluster
// role binding it matches nobody.
func subjectMatches(user string, groups []string, s *rbacv1.Subject, bindingNamespace string) bool {
	switch s.Kind {
	case rbacv1.UserKind:
		return user == s.Name
	case rbacv1.GroupKind:
		return slices.Contains(groups, s.Name)
	case rbacv1.ServiceAccountKind:
		ns := bindingNamespace
		if s.Namespace != "" {
			ns = s.Namespace
		}
		if ns == "" {
			return false
		}
		return isServiceAccountUser(user, ns, s.Name)
	default:
		return false
	}
}

// isServiceAccountUser compares without building the user name, as
// upstream's serviceaccount.MatchesUsername does.
func isServiceAccountUser(user, namespace, name string) bool {
	rest, ok := strings.CutPrefix(user, serviceAccountUserPrefix)
	if !ok {
		return false
	}
	rest, ok = strings.CutPrefix(rest, namespace)
	if !ok {
		return false
	}
	rest, ok = strings.CutPrefix(rest, ":")
	return ok && rest == name
}

// describeSubject names a subject as upstream's "allowed by" reasons do.
func describeSubject(s *rbacv1.Subject, bindingNamespace string) string {
	if s.Kind == rbacv1.ServiceAccountKind {
		ns := s.Namespace
		if ns == "" {
			ns = bindingNamespace
		}
		return fmt.Sprintf("%s %q", s.Kind, s.Name+"/"+ns)
	}
	return fmt.Sprintf("%s %q", s.Kind, s.Name)
}
