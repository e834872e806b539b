// Package controller holds mini's controllers, one package each. Every
// controller talks to the API like upstream's kube-controller-manager does,
// through client-go informers and work queues, with a small Config and
// Run(ctx).
package controller
