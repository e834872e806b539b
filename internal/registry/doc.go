// Package registry describes every resource the API serves: its names for
// discovery and routing, and the behaviour that differs per resource
// (defaults, validation, table columns, selectable fields, what a write may
// change). The API server's handlers are generic; everything specific to a
// resource is here, one file per resource.
package registry
