// Package testimages builds the container images mini's tests run, locally
// and without a registry: a busybox image from the host's busybox-static and
// an HTTP test app (tags v1 and v2) on top of it. Each is written as a
// docker-archive tar (the format `docker save` writes and `ctr image import`
// and `mini image import` read) under a cache directory, named by a hash of
// everything that goes into it, so repeated test runs reuse the tar and a
// changed input yields a new file. Images are built with fixed timestamps, so
// the same inputs always give the same image ID.
package testimages
