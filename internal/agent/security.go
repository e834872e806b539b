package agent

import (
	corev1 "k8s.io/api/core/v1"

	"mini.dev/mini/internal/runtime"
)

// securityConfig merges the pod's and the container's security context
// as kubelet's determineEffectiveSecurityContext does: the container's
// fields win; fsGroup and supplementalGroups join the groups.
func securityConfig(pod *corev1.Pod, c *corev1.Container) *runtime.SecurityConfig {
	psc, csc := pod.Spec.SecurityContext, c.SecurityContext
	if psc == nil && csc == nil {
		return nil
	}
	out := &runtime.SecurityConfig{}
	if psc != nil {
		out.RunAsUser, out.RunAsGroup = psc.RunAsUser, psc.RunAsGroup
		out.SupplementalGroups = append(out.SupplementalGroups, psc.SupplementalGroups...)
		if psc.FSGroup != nil {
			out.SupplementalGroups = append(out.SupplementalGroups, *psc.FSGroup)
		}
	}
	if csc != nil {
		if csc.RunAsUser != nil {
			out.RunAsUser = csc.RunAsUser
		}
		if csc.RunAsGroup != nil {
			out.RunAsGroup = csc.RunAsGroup
		}
		out.Privileged = csc.Privileged != nil && *csc.Privileged
		out.ReadOnlyRootFS = csc.ReadOnlyRootFilesystem != nil && *csc.ReadOnlyRootFilesystem
		out.NoNewPrivileges = csc.AllowPrivilegeEscalation != nil && !*csc.AllowPrivilegeEscalation
		if caps := csc.Capabilities; caps != nil {
			for _, cp := range caps.Add {
				out.AddCapabilities = append(out.AddCapabilities, string(cp))
			}
			for _, cp := range caps.Drop {
				out.DropCapabilities = append(out.DropCapabilities, string(cp))
			}
		}
	}
	return out
}
