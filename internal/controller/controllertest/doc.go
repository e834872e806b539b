// Package controllertest holds what the controllers' unit tests share: a
// fake API that does on create and update what the real one does and
// controllers notice, and an event recorder tests can read back.
package controllertest
