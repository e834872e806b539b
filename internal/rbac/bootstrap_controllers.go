package rbac

import (
	"slices"

	rbacv1 "k8s.io/api/rbac/v1"
)

// Controllers act as their own service accounts in kube-system (upstream's
// --use-service-account-credentials): each has a role
// system:controller:NAME bound to the service account kube-system/NAME.
const (
	controllerRolePrefix = "system:controller:"
	controllerNamespace  = "kube-system"
)

// controllerPolicies are upstream's controller_policy.go roles for the
// controllers mini runs.
func controllerPolicies() map[string][]rbacv1.PolicyRule {
	apps := []string{appsGroup, extensionsGroup}
	return map[string][]rbacv1.PolicyRule{
		"clusterrole-aggregation-controller": {
			// escalate lets it write rules it does not hold itself.
			rule("escalate", "get", "list", "watch", "update", "patch").groups(rbacGroup).resources("clusterroles").r(),
		},
		"cronjob-controller": {
			rule("get", "list", "watch", "update").groups(batchGroup).resources("cronjobs").r(),
			rule("get", "list", "watch", "create", "update", "delete", "patch").groups(batchGroup).resources("jobs").r(),
			rule("update").groups(batchGroup).resources("cronjobs/status").r(),
			rule("update").groups(batchGroup).resources("cronjobs/finalizers").r(),
			rule("list", "watch", "delete").groups(legacyGroup).resources("pods").r(),
			eventsRule(),
		},
		"daemon-set-controller": {
			rule("get", "list", "watch").groups(apps...).resources("daemonsets").r(),
			rule("update").groups(apps...).resources("daemonsets/status").r(),
			rule("update").groups(apps...).resources("daemonsets/finalizers").r(),
			rule("list", "watch").groups(legacyGroup).resources("nodes").r(),
			rule("list", "watch", "create", "delete", "patch").groups(legacyGroup).resources("pods").r(),
			rule("create").groups(legacyGroup).resources("pods/binding").r(),
			rule("get", "list", "watch", "create", "delete", "update", "patch").groups(appsGroup).resources("controllerrevisions").r(),
			eventsRule(),
		},
		"deployment-controller": {
			rule("get", "list", "watch", "update").groups(apps...).resources("deployments").r(),
			rule("update").groups(apps...).resources("deployments/status").r(),
			rule("update").groups(apps...).resources("deployments/finalizers").r(),
			rule("get", "list", "watch", "create", "update", "patch", "delete").groups(apps...).resources("replicasets").r(),
			// The deployment controller relabels pods it adopts.
			rule("get", "list", "watch", "update").groups(legacyGroup).resources("pods").r(),
			eventsRule(),
		},
		"endpoint-controller": {
			rule("get", "list", "watch").groups(legacyGroup).resources("services", "pods").r(),
			rule("get", "list", "watch", "create", "update", "delete").groups(legacyGroup).resources("endpoints").r(),
			rule("create").groups(legacyGroup).resources("endpoints/restricted").r(),
			eventsRule(),
		},
		"endpointslice-controller": {
			rule("get", "list", "watch").groups(legacyGroup).resources("services", "pods", "nodes").r(),
			rule("update").groups(legacyGroup).resources("services/finalizers").r(),
			rule("get", "list", "watch", "create", "update", "delete").groups(discoveryGroup).resources("endpointslices").r(),
			eventsRule(),
		},
		"generic-garbage-collector": {
			// Reads and deletes anything, and patches owner references.
			rule("get", "list", "watch", "patch", "update", "delete").groups("*").resources("*").r(),
			eventsRule(),
		},
		"job-controller": {
			rule("get", "list", "watch", "update", "patch").groups(batchGroup).resources("jobs").r(),
			rule("update").groups(batchGroup).resources("jobs/status").r(),
			rule("update").groups(batchGroup).resources("jobs/finalizers").r(),
			rule("list", "watch", "create", "delete", "patch").groups(legacyGroup).resources("pods").r(),
			eventsRule(),
		},
		"namespace-controller": {
			rule("get", "list", "watch", "delete").groups(legacyGroup).resources("namespaces").r(),
			rule("update").groups(legacyGroup).resources("namespaces/finalize", "namespaces/status").r(),
			rule("get", "list", "watch", "delete", "deletecollection").groups("*").resources("*").r(),
		},
		"node-controller": {
			rule("get", "list", "watch", "update", "delete", "patch").groups(legacyGroup).resources("nodes").r(),
			rule("patch", "update").groups(legacyGroup).resources("nodes/status").r(),
			// Marks pods on lost nodes not ready, and evicts them.
			rule("patch", "update").groups(legacyGroup).resources("pods/status").r(),
			rule("list", "watch", "delete", "get").groups(legacyGroup).resources("pods").r(),
			eventsRule(),
		},
		"persistent-volume-binder": {
			rule("get", "list", "watch", "update", "create", "delete").groups(legacyGroup).resources("persistentvolumes").r(),
			rule("update").groups(legacyGroup).resources("persistentvolumes/status").r(),
			rule("get", "list", "watch", "update").groups(legacyGroup).resources("persistentvolumeclaims").r(),
			rule("update").groups(legacyGroup).resources("persistentvolumeclaims/status").r(),
			rule("list", "watch", "get", "create", "delete").groups(legacyGroup).resources("pods").r(),
			rule(read...).groups(storageGroup).resources("storageclasses").r(),
			rule("watch", "list").groups(legacyGroup).resources("nodes").r(),
			eventsRule(),
			rule("watch").groups(legacyGroup).resources("events").r(),
		},
		"pod-garbage-collector": {
			rule("list", "watch", "delete").groups(legacyGroup).resources("pods").r(),
			rule("get", "list", "watch").groups(legacyGroup).resources("nodes").r(),
			rule("patch").groups(legacyGroup).resources("pods/status").r(),
		},
		"pv-protection-controller": {
			rule("get", "list", "watch", "update").groups(legacyGroup).resources("persistentvolumes").r(),
			eventsRule(),
		},
		"pvc-protection-controller": {
			rule("get", "list", "watch", "update").groups(legacyGroup).resources("persistentvolumeclaims").r(),
			rule("update").groups(legacyGroup).resources("persistentvolumeclaims/status").r(),
			rule("list", "watch", "get").groups(legacyGroup).resources("pods").r(),
			eventsRule(),
		},
		"replicaset-controller": {
			rule("get", "list", "watch", "update").groups(apps...).resources("replicasets").r(),
			rule("update").groups(apps...).resources("replicasets/status").r(),
			rule("update").groups(apps...).resources("replicasets/finalizers").r(),
			rule("list", "watch", "patch", "create", "delete").groups(legacyGroup).resources("pods").r(),
			eventsRule(),
		},
		"resourcequota-controller": {
			// Counts anything.
			rule("list", "watch").groups("*").resources("*").r(),
			rule("update").groups(legacyGroup).resources("resourcequotas/status").r(),
			eventsRule(),
		},
		"root-ca-cert-publisher": {
			rule("create", "update").groups(legacyGroup).resources("configmaps").r(),
			eventsRule(),
		},
		"service-account-controller": {
			rule("create").groups(legacyGroup).resources("serviceaccounts").r(),
			eventsRule(),
		},
		"service-controller": {
			rule("get", "list", "watch").groups(legacyGroup).resources("services").r(),
			rule("patch", "update").groups(legacyGroup).resources("services/status").r(),
			rule("list", "watch").groups(legacyGroup).resources("nodes").r(),
			eventsRule(),
		},
		"statefulset-controller": {
			rule("list", "watch").groups(legacyGroup).resources("pods").r(),
			rule("get", "list", "watch").groups(appsGroup).resources("statefulsets").r(),
			rule("update").groups(appsGroup).resources("statefulsets/status").r(),
			rule("update").groups(appsGroup).resources("statefulsets/finalizers").r(),
			rule("get", "create", "delete", "update", "patch").groups(legacyGroup).resources("pods").r(),
			rule("get", "list", "watch", "create", "delete", "update", "patch").groups(appsGroup).resources("controllerrevisions").r(),
			rule("get", "create", "list", "watch").groups(legacyGroup).resources("persistentvolumeclaims").r(),
			rule("update", "delete").groups(legacyGroup).resources("persistentvolumeclaims").r(),
			rule("update").groups(legacyGroup).resources("pods/finalizers").r(),
			eventsRule(),
		},
		"ttl-after-finished-controller": {
			rule("get", "list", "watch", "delete").groups(batchGroup).resources("jobs").r(),
			eventsRule(),
		},
	}
}

// controllerNames lists the controllers in name order, the order upstream
// lists their roles in.
func controllerNames() []string {
	var names []string
	for name := range controllerPolicies() {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

func controllerRoles() []*rbacv1.ClusterRole {
	policies := controllerPolicies()
	var roles []*rbacv1.ClusterRole
	for _, name := range controllerNames() {
		roles = append(roles, clusterRole(controllerRolePrefix+name, policies[name]...))
	}
	return roles
}

func controllerRoleBindings() []*rbacv1.ClusterRoleBinding {
	var bindings []*rbacv1.ClusterRoleBinding
	for _, name := range controllerNames() {
		bindings = append(bindings, clusterBinding(controllerRolePrefix+name, serviceAccount(controllerNamespace, name)))
	}
	return bindings
}
