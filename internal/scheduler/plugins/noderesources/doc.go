// Package noderesources holds upstream's NodeResourcesFit (filter and
// LeastAllocated score) and NodeResourcesBalancedAllocation plugins.
package noderesources
