package agent

import (
	"fmt"
	"strconv"
	"strings"

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

// verifyRunAsNonRoot is kubelet's check of runAsNonRoot against the uid
// the container will run as: its runAsUser, else the image's user (none
// means root; a name cannot be verified).
func verifyRunAsNonRoot(pod *corev1.Pod, c *corev1.Container, imageUser string) error {
	nonRoot := pod.Spec.SecurityContext != nil && pod.Spec.SecurityContext.RunAsNonRoot != nil && *pod.Spec.SecurityContext.RunAsNonRoot
	if c.SecurityContext != nil && c.SecurityContext.RunAsNonRoot != nil {
		nonRoot = *c.SecurityContext.RunAsNonRoot
	}
	if !nonRoot {
		return nil
	}
	if sc := securityConfig(pod, c); sc != nil && sc.RunAsUser != nil {
		if *sc.RunAsUser == 0 {
			return fmt.Errorf("container's runAsUser breaks non-root policy (pod: %q, container: %s)", formatPod(pod), c.Name)
		}
		return nil
	}
	user, _, _ := strings.Cut(imageUser, ":")
	if user == "" {
		return fmt.Errorf("container has runAsNonRoot and image will run as root (pod: %q, container: %s)", formatPod(pod), c.Name)
	}
	uid, err := strconv.ParseInt(user, 10, 64)
	switch {
	case err != nil:
		return fmt.Errorf("container has runAsNonRoot and image has non-numeric user (%s), cannot verify user is non-root (pod: %q, container: %s)",
			user, formatPod(pod), c.Name)
	case uid == 0:
		return fmt.Errorf("container has runAsNonRoot and image will run as root (pod: %q, container: %s)", formatPod(pod), c.Name)
	}
	return nil
}
