// Package openapi serves the OpenAPI v2 and v3 documents of the registry's
// resources, shaped as kube-apiserver's so that kubectl can use them:
// explain reads the field docs, apply checks that PATCH takes
// fieldValidation and reads the strategic-merge-patch metadata, and
// validation reads the kinds.
//
// The schemas are built at run time by reflection over the Go types of
// k8s.io/api, following what kube-openapi's generator does with them: json
// tags name the fields, omitempty makes a field optional, SwaggerDoc gives
// the descriptions, patchStrategy and patchMergeKey tags give the patch
// extensions, and OpenAPIModelName, OpenAPISchemaType, OpenAPISchemaFormat
// and OpenAPIV3OneOfTypes shape the types that carry them. What upstream
// takes from comment markers alone (+optional on fields without omitempty,
// +listType, +enum, validations) is not known at run time and is left out.
package openapi
