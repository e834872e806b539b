// Package testutil builds the nodes and pods the scheduler's plugin tests
// share, so that each table reads as the situation it describes.
package testutil
