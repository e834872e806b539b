// Package podtopologyspread is upstream's PodTopologySpread plugin: a
// DoNotSchedule constraint rejects nodes where placing the pod would make
// its domain hold more than maxSkew matching pods above the least
// populated domain (0 while fewer than minDomains domains exist); a
// ScheduleAnyway constraint scores nodes in emptier domains higher.
package podtopologyspread
