package containerd

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/containerd/containers"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Labels mini keeps on its containerd records, beside the agent's own.
// They hold everything a restarted agent needs, so mini keeps no state of
// its own.
// ownPrefix starts every label mini's containerd backend sets for itself.
const ownPrefix = "ctrd.mini.dev/"

const (
	labelKind = ownPrefix + "kind" // kindSandbox or kindContainer

	// Sandboxes.
	labelName        = ownPrefix + "name"
	labelNamespace   = ownPrefix + "namespace"
	labelUID         = ownPrefix + "uid"
	labelState       = ownPrefix + "state"
	labelIPs         = ownPrefix + "ips"
	labelNetNS       = ownPrefix + "netns"
	labelHostNetwork = ownPrefix + "host-network"
	labelHostname    = ownPrefix + "hostname"
	labelLogDir      = ownPrefix + "log-directory"

	// Both.
	labelAttempt = ownPrefix + "attempt"
	labelCreated = ownPrefix + "created"

	// Containers.
	labelSandbox   = ownPrefix + "sandbox"
	labelCName     = ownPrefix + "container-name"
	labelImage     = ownPrefix + "image"
	labelImageRef  = ownPrefix + "image-ref"
	labelLogPath   = ownPrefix + "log-path"
	labelStdin     = ownPrefix + "stdin"
	labelStdinOnce = ownPrefix + "stdin-once"
	labelTTY       = ownPrefix + "tty"
	labelStarted   = ownPrefix + "started"
	labelFinished  = ownPrefix + "finished"
	labelExitCode  = ownPrefix + "exit-code"
	labelReason    = ownPrefix + "reason"
	labelMessage   = ownPrefix + "message"
)

const (
	kindSandbox   = "sandbox"
	kindContainer = "container"
)

// maxMessage keeps a message label well under containerd's 4 KiB limit
// for a label.
const maxMessage = 3000

// Filters selecting mini's sandboxes and containers.
var (
	sandboxFilter   = `labels."` + labelKind + `"==` + kindSandbox
	containerFilter = `labels."` + labelKind + `"==` + kindContainer
)

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

func parseUint32(s string) uint32 {
	n, _ := strconv.ParseUint(s, 10, 32)
	return uint32(n)
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// userLabels returns the labels the agent set, without mini's own.
func userLabels(all map[string]string) map[string]string {
	out := make(map[string]string, len(all))
	for k, v := range all {
		if !strings.HasPrefix(k, "mini.dev/") || k == ownPrefix+"container-type" {
			out[k] = v
		}
	}
	return out
}

// specAnnotations reads the annotations kept in a record's OCI spec.
func specAnnotations(rec *containers.Container) map[string]string {
	if rec.Spec == nil {
		return nil
	}
	var s specs.Spec
	if err := json.Unmarshal(rec.Spec.GetValue(), &s); err != nil {
		return nil
	}
	return s.Annotations
}
