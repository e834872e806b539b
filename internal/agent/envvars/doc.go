// Package envvars computes a container's environment as kubelet's
// makeEnvironmentVariables does: service link variables, envFrom, env
// with $(VAR) expansion, and the valueFrom sources (configMapKeyRef,
// secretKeyRef, fieldRef, resourceFieldRef). The downward API helpers
// (PodFieldValue, ContainerResourceValue) are shared with the volume
// manager's downwardAPI volumes, and so is the Getter, whose cached
// implementation keeps a hundred pods from meaning a hundred GETs each.
package envvars
