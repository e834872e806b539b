package apiserver

// Upstream's DefaultTolerationSeconds admission plugin
// (plugin/pkg/admission/defaulttolerationseconds): every pod tolerates a
// node that is not ready or unreachable for five minutes before the node
// lifecycle controller evicts it, unless it says otherwise.

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

// defaultTolerationSeconds is upstream's --default-not-ready-toleration-
// seconds and --default-unreachable-toleration-seconds.
const defaultTolerationSeconds = 300

// addDefaultTolerations adds the not-ready and unreachable NoExecute
// tolerations a pod lacks. A toleration with an empty key or effect
// already covers them, as upstream reads it.
func addDefaultTolerations(spec *corev1.PodSpec) {
	toleratesNotReady, toleratesUnreachable := false, false
	for _, t := range spec.Tolerations {
		noExecute := t.Effect == corev1.TaintEffectNoExecute || t.Effect == ""
		if noExecute && (t.Key == corev1.TaintNodeNotReady || t.Key == "") {
			toleratesNotReady = true
		}
		if noExecute && (t.Key == corev1.TaintNodeUnreachable || t.Key == "") {
			toleratesUnreachable = true
		}
	}
	if !toleratesNotReady {
		spec.Tolerations = append(spec.Tolerations, defaultToleration(corev1.TaintNodeNotReady))
	}
	if !toleratesUnreachable {
		spec.Tolerations = append(spec.Tolerations, defaultToleration(corev1.TaintNodeUnreachable))
	}
}

func defaultToleration(key string) corev1.Toleration {
	return corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute,
		TolerationSeconds: ptr.To[int64](defaultTolerationSeconds)}
}
