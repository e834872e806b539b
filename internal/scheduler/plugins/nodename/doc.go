// Package nodename is upstream's NodeName filter: a pod that names a node
// in spec.nodeName fits only there. The scheduler never sees such pods
// (they are bound already) except through preemption simulations and
// tests, but the filter keeps the verdict wording upstream's.
package nodename
