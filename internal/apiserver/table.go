package apiserver

import (
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"mini.dev/mini/internal/registry"
)

// defaultColumns is upstream's table for resources without a printer.
var defaultColumns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: metav1.ObjectMeta{}.SwaggerDoc()["name"]},
	{Name: "Created At", Type: "date", Description: metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"]},
}

// tableOptions are the includeObject query parameter and whether to leave
// out the column definitions (every watch event after the first).
type tableOptions struct {
	includeObject metav1.IncludeObjectPolicy
	noHeaders     bool
}

func parseTableOptions(q map[string][]string) (tableOptions, error) {
	o := tableOptions{includeObject: metav1.IncludeMetadata}
	if v := q["includeObject"]; len(v) > 0 && v[0] != "" {
		switch p := metav1.IncludeObjectPolicy(v[0]); p {
		case metav1.IncludeNone, metav1.IncludeMetadata, metav1.IncludeObject:
			o.includeObject = p
		default:
			return o, apierrors.NewBadRequest(fmt.Sprintf("includeObject: unsupported value %q", v[0]))
		}
	}
	return o, nil
}

// toTable renders objects as the Table `kubectl get` prints.
func toTable(r *registry.Resource, objs []runtime.Object, list metav1.ListMeta, o tableOptions) *metav1.Table {
	t := &metav1.Table{TypeMeta: metav1.TypeMeta{Kind: "Table", APIVersion: "meta.k8s.io/v1"}, ListMeta: list}
	if !o.noHeaders {
		t.ColumnDefinitions = defaultColumns
		if r.Cells != nil {
			t.ColumnDefinitions = r.Columns
		}
	}
	t.Rows = make([]metav1.TableRow, 0, len(objs))
	for _, obj := range objs {
		row := metav1.TableRow{}
		if r.Cells != nil {
			row.Cells = r.Cells(obj)
		} else if m, err := meta.Accessor(obj); err == nil {
			row.Cells = []any{m.GetName(), m.GetCreationTimestamp().UTC().Format("2006-01-02T15:04:05Z")}
		}
		switch o.includeObject {
		case metav1.IncludeObject:
			obj.GetObjectKind().SetGroupVersionKind(r.GroupVersionKind())
			row.Object.Object = obj
		case metav1.IncludeMetadata:
			row.Object.Object = partialMetadata(obj)
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// partialMetadata is an object reduced to its metadata.
func partialMetadata(obj runtime.Object) *metav1.PartialObjectMetadata {
	p := &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{Kind: "PartialObjectMetadata", APIVersion: "meta.k8s.io/v1"}}
	if om, err := registry.ObjectMeta(obj); err == nil {
		p.ObjectMeta = *om
	}
	return p
}
