package rbac

import (
	rbacv1 "k8s.io/api/rbac/v1"
)

// API groups named by the bootstrap policy.
const (
	legacyGroup         = ""
	appsGroup           = "apps"
	authenticationGroup = "authentication.k8s.io"
	authorizationGroup  = "authorization.k8s.io"
	autoscalingGroup    = "autoscaling"
	batchGroup          = "batch"
	certificatesGroup   = "certificates.k8s.io"
	coordinationGroup   = "coordination.k8s.io"
	discoveryGroup      = "discovery.k8s.io"
	extensionsGroup     = "extensions"
	networkingGroup     = "networking.k8s.io"
	nodeGroup           = "node.k8s.io"
	policyGroup         = "policy"
	rbacGroup           = "rbac.authorization.k8s.io"
	storageGroup        = "storage.k8s.io"
)

// clusterRoles are upstream's ClusterRoles() that mini uses: the user-facing
// roles, discovery and health for everyone, and the roles of the
// components mini runs itself (scheduler, controller manager, node agent,
// proxy, DNS).
func clusterRoles() []*rbacv1.ClusterRole {
	return []*rbacv1.ClusterRole{
		// A "root" role which can do absolutely anything.
		clusterRole("cluster-admin",
			rule("*").groups("*").resources("*").r(),
			rule("*").urls("*").r()),
		// Just enough to discover API versions for negotiation.
		clusterRole("system:discovery",
			rule("get").urls("/livez", "/readyz", "/healthz", "/version", "/version/",
				"/openapi", "/openapi/*", "/api", "/api/*", "/apis", "/apis/*").r()),
		clusterRole("system:monitoring",
			rule("get").urls("/metrics", "/metrics/slis", "/livez", "/readyz", "/healthz",
				"/livez/*", "/readyz/*", "/healthz/*").r()),
		// Minimal access for a user to learn about themselves.
		clusterRole("system:basic-user",
			rule("create").groups(authorizationGroup).resources("selfsubjectaccessreviews", "selfsubjectrulesreviews").r(),
			rule("create").groups(authenticationGroup).resources("selfsubjectreviews").r()),
		// Health and version, for everyone including anonymous callers.
		clusterRole("system:public-info-viewer",
			rule("get").urls("/livez", "/readyz", "/healthz", "/version", "/version/").r()),

		// Namespace admin: edit plus the power to grant permissions.
		aggregatedRole("admin", aggregateToAdmin),
		// Namespace editor: every user-level action, nothing that
		// controls the namespace itself.
		withLabel(aggregatedRole("edit", aggregateToEdit), aggregateToAdmin),
		// Read-only access to non-escalating resources.
		withLabel(aggregatedRole("view", aggregateToView), aggregateToEdit),
		withLabel(clusterRole("system:aggregate-to-admin", aggregateToAdminRules()...), aggregateToAdmin),
		withLabel(clusterRole("system:aggregate-to-edit", aggregateToEditRules()...), aggregateToEdit),
		withLabel(clusterRole("system:aggregate-to-view", aggregateToViewRules()...), aggregateToView),

		clusterRole("system:node", nodeRules()...),
		clusterRole("system:node-proxier",
			rule("list", "watch").groups(legacyGroup).resources("services", "endpoints").r(),
			rule("get", "list", "watch").groups(legacyGroup).resources("nodes").r(),
			eventsRule(),
			rule("list", "watch").groups(discoveryGroup).resources("endpointslices").r()),
		clusterRole("system:auth-delegator",
			rule("create").groups(authenticationGroup).resources("tokenreviews").r(),
			rule("create").groups(authorizationGroup).resources("subjectaccessreviews").r()),
		clusterRole("system:kube-controller-manager", kubeControllerManagerRules()...),
		clusterRole("system:kube-dns",
			rule("list", "watch").groups(legacyGroup).resources("endpoints", "services").r()),
		clusterRole("system:kube-scheduler", kubeSchedulerRules()...),
		clusterRole("system:volume-scheduler",
			rule("get", "list", "watch", "update", "patch").groups(legacyGroup).resources("persistentvolumes").r(),
			rule(read...).groups(storageGroup).resources("storageclasses").r(),
			rule("get", "list", "watch", "update", "patch").groups(legacyGroup).resources("persistentvolumeclaims").r()),
		clusterRole("system:service-account-issuer-discovery",
			rule("get").urls("/.well-known/openid-configuration", "/openid/v1/jwks").r()),
	}
}

// clusterRoleBindings are upstream's ClusterRoleBindings() for the roles
// above.
func clusterRoleBindings() []*rbacv1.ClusterRoleBinding {
	return []*rbacv1.ClusterRoleBinding{
		clusterBinding("cluster-admin", groups(GroupMasters)...),
		clusterBinding("system:monitoring", groups(GroupMonitoring)...),
		clusterBinding("system:discovery", groups(GroupAuthenticated)...),
		clusterBinding("system:basic-user", groups(GroupAuthenticated)...),
		clusterBinding("system:public-info-viewer", groups(GroupAuthenticated, GroupUnauthenticated)...),
		// mini's node role runs the service proxy and cluster DNS in the
		// agent's process, as the node's identity: system:nodes proxy too.
		clusterBinding("system:node-proxier", append([]rbacv1.Subject{user(UserKubeProxy)}, groups(GroupNodes)...)...),
		clusterBinding("system:kube-controller-manager", user(UserKubeControllerManager)),
		clusterBinding("system:kube-dns", serviceAccount("kube-system", "kube-dns")),
		clusterBinding("system:kube-scheduler", user(UserKubeScheduler)),
		clusterBinding("system:volume-scheduler", user(UserKubeScheduler)),
		clusterBinding("system:node", groups(GroupNodes)...), // upstream: no subjects (its Node authorizer)
		clusterBinding("system:service-account-issuer-discovery", groups(GroupServiceAccounts)...),
	}
}

func aggregateToAdminRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		rule("create").groups(authorizationGroup).resources("localsubjectaccessreviews").r(),
		rule(readWrite...).groups(rbacGroup).resources("roles", "rolebindings").r(),
	}
}

func aggregateToEditRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		// Read access to secrets and to the pod and service proxies.
		rule(read...).groups(legacyGroup).resources("pods/attach", "pods/proxy", "pods/exec", "pods/portforward", "secrets", "services/proxy").r(),
		rule("impersonate").groups(legacyGroup).resources("serviceaccounts").r(),
		rule(write...).groups(legacyGroup).resources("pods", "pods/attach", "pods/proxy", "pods/exec", "pods/portforward").r(),
		rule("create").groups(legacyGroup).resources("pods/eviction").r(),
		rule(write...).groups(legacyGroup).resources("replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts",
			"services", "services/proxy", "persistentvolumeclaims", "configmaps", "secrets", "events").r(),
		rule("create").groups(legacyGroup).resources("serviceaccounts/token").r(),
		rule(write...).groups(appsGroup).resources("statefulsets", "statefulsets/scale", "daemonsets",
			"deployments", "deployments/scale", "deployments/rollback", "replicasets", "replicasets/scale").r(),
		rule(write...).groups(autoscalingGroup).resources("horizontalpodautoscalers").r(),
		rule(write...).groups(batchGroup).resources("jobs", "cronjobs").r(),
		rule(write...).groups(extensionsGroup).resources("daemonsets", "deployments", "deployments/scale", "deployments/rollback",
			"ingresses", "replicasets", "replicasets/scale", "replicationcontrollers/scale", "networkpolicies").r(),
		rule(write...).groups(policyGroup).resources("poddisruptionbudgets").r(),
		rule(write...).groups(networkingGroup).resources("ingresses", "networkpolicies").r(),
		rule(readWrite...).groups(coordinationGroup).resources("leases").r(),
	}
}

func aggregateToViewRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		rule(read...).groups(legacyGroup).resources("pods", "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts",
			"services", "services/status", "endpoints", "persistentvolumeclaims", "persistentvolumeclaims/status", "configmaps").r(),
		rule(read...).groups(legacyGroup).resources("limitranges", "resourcequotas", "bindings", "events",
			"pods/status", "resourcequotas/status", "namespaces/status", "replicationcontrollers/status", "pods/log").r(),
		// Reading namespaces at namespace scope means reading this one:
		// a hint of which namespaces a user can use.
		rule(read...).groups(legacyGroup).resources("namespaces").r(),
		rule(read...).groups(discoveryGroup).resources("endpointslices").r(),
		rule(read...).groups(appsGroup).resources("controllerrevisions", "statefulsets", "statefulsets/status", "statefulsets/scale",
			"daemonsets", "daemonsets/status", "deployments", "deployments/status", "deployments/scale",
			"replicasets", "replicasets/status", "replicasets/scale").r(),
		rule(read...).groups(autoscalingGroup).resources("horizontalpodautoscalers", "horizontalpodautoscalers/status").r(),
		rule(read...).groups(batchGroup).resources("jobs", "cronjobs", "cronjobs/status", "jobs/status").r(),
		rule(read...).groups(extensionsGroup).resources("daemonsets", "daemonsets/status", "deployments", "deployments/scale", "deployments/status",
			"ingresses", "ingresses/status", "replicasets", "replicasets/scale", "replicasets/status", "replicationcontrollers/scale",
			"networkpolicies").r(),
		rule(read...).groups(policyGroup).resources("poddisruptionbudgets", "poddisruptionbudgets/status").r(),
		rule(read...).groups(networkingGroup).resources("ingresses", "ingresses/status", "networkpolicies").r(),
	}
}

// nodeRules is what a node agent needs to run its pods.
func nodeRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		// Access checks; these creates change nothing.
		rule("create").groups(authenticationGroup).resources("tokenreviews").r(),
		rule("create").groups(authorizationGroup).resources("subjectaccessreviews", "localsubjectaccessreviews").r(),
		// Services, for the pods' environment variables.
		rule(read...).groups(legacyGroup).resources("services").r(),
		// Nodes register and update themselves.
		rule("create", "get", "list", "watch").groups(legacyGroup).resources("nodes").r(),
		rule("update", "patch").groups(legacyGroup).resources("nodes/status").r(),
		rule("update", "patch").groups(legacyGroup).resources("nodes").r(),
		rule("create", "update", "patch").groups(legacyGroup).resources("events").r(),
		rule(read...).groups(legacyGroup).resources("pods").r(),
		// Mirror pods.
		rule("create", "delete").groups(legacyGroup).resources("pods").r(),
		rule("update", "patch").groups(legacyGroup).resources("pods/status").r(),
		rule("create").groups(legacyGroup).resources("pods/eviction").r(),
		// Secret and config map volumes and environment variables.
		rule(read...).groups(legacyGroup).resources("secrets", "configmaps").r(),
		rule("get").groups(legacyGroup).resources("persistentvolumeclaims", "persistentvolumes").r(),
		rule("get").groups(legacyGroup).resources("endpoints").r(),
		rule("create", "get", "list", "watch").groups(certificatesGroup).resources("certificatesigningrequests").r(),
		// Node heartbeat leases.
		rule("get", "create", "update", "patch", "delete").groups(coordinationGroup).resources("leases").r(),
		rule("get").groups(storageGroup).resources("volumeattachments").r(),
		// Projected service account tokens.
		rule("create").groups(legacyGroup).resources("serviceaccounts/token").r(),
		rule("get", "update", "patch").groups(legacyGroup).resources("persistentvolumeclaims/status").r(),
		rule(read...).groups(storageGroup).resources("csidrivers").r(),
		rule("get", "create", "update", "patch", "delete").groups(storageGroup).resources("csinodes").r(),
		rule(read...).groups(nodeGroup).resources("runtimeclasses").r(),
	}
}

// kubeControllerManagerRules let the controller manager start: elect a
// leader, read everything, and mint the per-controller service accounts
// and tokens its controllers then act as.
func kubeControllerManagerRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		eventsRule(),
		rule("create").groups(coordinationGroup).resources("leases").r(),
		rule("get", "update").groups(coordinationGroup).resources("leases").names("kube-controller-manager").r(),
		rule("create").groups(legacyGroup).resources("secrets", "serviceaccounts").r(),
		rule("delete").groups(legacyGroup).resources("secrets").r(),
		rule("get").groups(legacyGroup).resources("namespaces", "secrets", "serviceaccounts", "configmaps").r(),
		rule("update").groups(legacyGroup).resources("secrets", "serviceaccounts").r(),
		rule("create").groups(authenticationGroup).resources("tokenreviews").r(),
		rule("create").groups(authorizationGroup).resources("subjectaccessreviews").r(),
		rule("list", "watch").groups("*").resources("*").r(),
		rule("create").groups(legacyGroup).resources("serviceaccounts/token").r(),
	}
}

func kubeSchedulerRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		eventsRule(),
		rule("create").groups(coordinationGroup).resources("leases").r(),
		rule("get", "update").groups(coordinationGroup).resources("leases").names("kube-scheduler").r(),
		rule(read...).groups(legacyGroup).resources("nodes").r(),
		rule("get", "list", "watch", "delete").groups(legacyGroup).resources("pods").r(),
		rule("create").groups(legacyGroup).resources("pods/binding", "bindings").r(),
		rule("patch", "update").groups(legacyGroup).resources("pods/status").r(),
		rule(read...).groups(legacyGroup).resources("replicationcontrollers", "services").r(),
		rule(read...).groups(appsGroup, extensionsGroup).resources("replicasets").r(),
		rule(read...).groups(appsGroup).resources("statefulsets").r(),
		rule(read...).groups(policyGroup).resources("poddisruptionbudgets").r(),
		rule(read...).groups(legacyGroup).resources("persistentvolumeclaims", "persistentvolumes").r(),
		rule("create").groups(authenticationGroup).resources("tokenreviews").r(),
		rule("create").groups(authorizationGroup).resources("subjectaccessreviews").r(),
		rule(read...).groups(storageGroup).resources("csinodes").r(),
		rule(read...).groups(legacyGroup).resources("namespaces").r(),
		rule(read...).groups(storageGroup).resources("csidrivers").r(),
		rule(read...).groups(storageGroup).resources("csistoragecapacities").r(),
	}
}
