package sim

import (
	"strconv"
	"time"

	"mini.dev/mini/internal/runtime"
)

// Pod annotations that script a sim container's life.
const (
	// AnnotationExitCode is the code the pod's containers exit with.
	AnnotationExitCode = "mini.dev/sim-exit-code"
	// AnnotationDuration is how long they run before exiting (a Go
	// duration such as "30s").
	AnnotationDuration = "mini.dev/sim-duration"
)

// defaultRun is how long a container that exits on its own runs.
const defaultRun = time.Second

type exitPlan struct {
	after time.Duration
	code  int32
}

// exitPlanFor says whether, when and how a container of the given type
// exits on its own. Sidecars and regular containers of an Always pod
// without annotations run until stopped. Init containers always complete
// (exit 0), since their pod cannot start otherwise; the annotations
// script the pod's main containers only. Malformed annotations are
// ignored, as if absent.
func exitPlanFor(typ, restartPolicy string, ann map[string]string) (exitPlan, bool) {
	if typ == runtime.ContainerTypeSidecar {
		return exitPlan{}, false
	}
	if typ == runtime.ContainerTypeInit {
		return exitPlan{after: defaultRun}, true
	}
	plan := exitPlan{after: defaultRun}
	scripted := false
	if v, ok := ann[AnnotationExitCode]; ok {
		if code, err := strconv.ParseInt(v, 10, 32); err == nil {
			plan.code, scripted = int32(code), true
		}
	}
	if v, ok := ann[AnnotationDuration]; ok {
		if d, err := time.ParseDuration(v); err == nil && d >= 0 {
			plan.after, scripted = d, true
		}
	}
	if !scripted && restartPolicy != "Never" && restartPolicy != "OnFailure" {
		return exitPlan{}, false
	}
	return plan, true
}
