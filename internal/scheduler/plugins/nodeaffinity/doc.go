// Package nodeaffinity is upstream's NodeAffinity plugin: Filter applies
// spec.nodeSelector and the required node affinity (matchExpressions on
// labels, matchFields on metadata.name); Score sums the weights of the
// preferred terms a node matches, normalised to 0..100.
package nodeaffinity
