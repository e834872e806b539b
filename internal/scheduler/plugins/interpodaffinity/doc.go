// Package interpodaffinity is upstream's InterPodAffinity plugin. Filter
// enforces the incoming pod's required pod affinity and anti-affinity and
// the required anti-affinity of pods already placed; Score weighs the
// preferred terms of both sides (and existing pods' required affinity,
// at weight 1). Everything is counted per topology domain in PreFilter
// and PreScore, so that Filter and Score are map lookups per node.
package interpodaffinity
