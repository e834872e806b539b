// Package ttlafterfinished is upstream's TTL-after-finished controller: it
// deletes a Job (and, by background propagation, its pods)
// spec.ttlSecondsAfterFinished after the Job finished, the finish being
// the last transition of its Complete or Failed condition.
package ttlafterfinished
