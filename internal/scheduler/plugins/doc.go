// Package plugins groups the scheduler's filter and score plugins, one
// package per upstream plugin of the default profile, each named and
// worded as its upstream namesake so that FailedScheduling messages read
// the same.
package plugins
