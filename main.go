// Command mini runs a Kubernetes-compatible cluster from one binary.
package main

import "mini.dev/mini/internal/cli"

func main() { cli.Main() }
