package job

import (
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
)

// matchSuccessPolicy reports whether an Indexed job's succeeded indexes
// meet one of its success policy rules, and upstream's message for it.
func matchSuccessPolicy(policy *batchv1.SuccessPolicy, completions int, succeeded indexSet) (string, bool) {
	if policy == nil || succeeded.total() == 0 {
		return "", false
	}
	for i, rule := range policy.Rules {
		if rule.SucceededIndexes != nil {
			required := parseIndexes(*rule.SucceededIndexes, completions)
			if required.total() == 0 {
				continue
			}
			matched := 0
			for _, ix := range required {
				if succeeded.has(ix) {
					matched++
				}
			}
			if (rule.SucceededCount == nil && matched == required.total()) ||
				(rule.SucceededCount != nil && matched >= int(*rule.SucceededCount)) {
				return fmt.Sprintf("Matched rules at index %d", i), true
			}
			continue
		}
		if rule.SucceededCount != nil && succeeded.total() >= int(*rule.SucceededCount) {
			return fmt.Sprintf("Matched rules at index %d", i), true
		}
	}
	return "", false
}
