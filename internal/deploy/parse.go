package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// templateVar matches a %{NAME}% template variable.
var templateVar = regexp.MustCompile(`%\{([A-Za-z0-9_]+)\}%`)

// expand substitutes vars into a built-in manifest. A variable the
// manifest names but vars lacks is an error rather than text left in
// place, so that a typo does not reach the API as a strange value.
func expand(content []byte, vars map[string]string) ([]byte, error) {
	var missing []string
	out := templateVar.ReplaceAllFunc(content, func(m []byte) []byte {
		name := string(templateVar.FindSubmatch(m)[1])
		v, ok := vars[name]
		if !ok {
			missing = append(missing, "%{"+name+"}%")
			return m
		}
		return []byte(v)
	})
	if len(missing) > 0 {
		return nil, fmt.Errorf("unknown template variable %s", strings.Join(missing, ", "))
	}
	return out, nil
}

// parse decodes a manifest: YAML documents separated by "---" (JSON is
// YAML), each an object or a List of objects. Errors name the document
// (counted from 1) and, once known, the object.
func parse(content []byte) ([]*unstructured.Unstructured, error) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(content)))
	var objs []*unstructured.Unstructured
	for doc := 1; ; doc++ {
		raw, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", doc, err)
		}
		if isEmptyYAML(raw) {
			continue
		}
		js, err := yaml.YAMLToJSON(raw)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", doc, err)
		}
		var m map[string]any
		if err := utiljson.Unmarshal(js, &m); err != nil {
			return nil, fmt.Errorf("document %d: not an object: %w", doc, err)
		}
		if m == nil {
			continue // "null"
		}
		items, err := objectsOf(m)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", doc, err)
		}
		objs = append(objs, items...)
	}
	return objs, nil
}

// objectsOf checks one decoded document and unpacks a List.
func objectsOf(m map[string]any) ([]*unstructured.Unstructured, error) {
	obj := &unstructured.Unstructured{Object: m}
	if err := checkObject(obj); err != nil {
		return nil, err
	}
	if !obj.IsList() {
		return []*unstructured.Unstructured{obj}, nil
	}
	list, err := obj.ToList()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", obj.GetKind(), err)
	}
	out := make([]*unstructured.Unstructured, 0, len(list.Items))
	for i := range list.Items {
		item := &list.Items[i]
		if err := checkObject(item); err != nil {
			return nil, fmt.Errorf("%s item %d: %w", obj.GetKind(), i, err)
		}
		if item.IsList() {
			return nil, fmt.Errorf("%s item %d: a List inside a List", obj.GetKind(), i)
		}
		out = append(out, item)
	}
	return out, nil
}

// checkObject reports what server-side apply would need and lacks.
func checkObject(obj *unstructured.Unstructured) error {
	switch {
	case obj.GetAPIVersion() == "":
		return errors.New("apiVersion is missing")
	case obj.GetKind() == "":
		return errors.New("kind is missing")
	case obj.IsList():
		return nil
	case obj.GetName() == "" && obj.GetGenerateName() != "":
		return fmt.Errorf("%s: metadata.generateName cannot be applied, give metadata.name", obj.GetKind())
	case obj.GetName() == "":
		return fmt.Errorf("%s: metadata.name is missing", obj.GetKind())
	}
	return nil
}

// isEmptyYAML is true for a document of only blank lines and comments.
func isEmptyYAML(doc []byte) bool {
	for line := range bytes.SplitSeq(doc, []byte("\n")) {
		l := bytes.TrimSpace(line)
		if len(l) > 0 && l[0] != '#' && string(l) != "---" {
			return false
		}
	}
	return true
}

// applyOrder puts Namespaces, then CRDs, before other objects, keeping
// the file's order otherwise, so that a file may create a namespace and
// fill it.
func applyOrder(objs []*unstructured.Unstructured) {
	rank := func(o *unstructured.Unstructured) int {
		switch o.GroupVersionKind().GroupKind().String() {
		case "Namespace":
			return 0
		case "CustomResourceDefinition.apiextensions.k8s.io":
			return 1
		}
		return 2
	}
	sort.SliceStable(objs, func(i, j int) bool { return rank(objs[i]) < rank(objs[j]) })
}
