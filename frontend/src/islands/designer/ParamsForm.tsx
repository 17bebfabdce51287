// The params form, rendered by rjsf from the node type's JSON Schema. Loaded lazily: the canvas
// draws before this chunk (and ajv) arrive.
import Form from "@rjsf/core";
import type { ErrorSchema, FieldProps, RJSFSchema } from "@rjsf/utils";
import validator from "@rjsf/validator-ajv8";
import { useEffect, useState } from "react";
import type { JsonSchema } from "../../lib/nodeKinds";
import { extraErrorsFor, uiSchemaFor } from "../../lib/paramsUi";

function JsonField(props: FieldProps) {
  const { formData, onChange, fieldPathId, name, readonly, rawErrors, schema } = props;
  const shown = formData === undefined ? "" : JSON.stringify(formData, null, 2);
  const [text, setText] = useState(shown);
  const [error, setError] = useState("");
  useEffect(() => setText(shown), [shown]);
  const id = fieldPathId.$id;
  return (
    <div className="form-group field dz-json-field">
      <label htmlFor={id}>{schema.title ?? name} (JSON)</label>
      {schema.description ? <p className="muted small">{schema.description}</p> : null}
      <textarea
        id={id}
        rows={6}
        value={text}
        readOnly={readonly}
        onChange={(event) => setText(event.target.value)}
        onBlur={() => {
          if (text.trim() === "") return onChange(undefined, fieldPathId.path);
          try {
            onChange(JSON.parse(text), fieldPathId.path);
            setError("");
          } catch {
            setError("This is not valid JSON");
          }
        }}
      />
      {[error, ...(rawErrors ?? [])].filter(Boolean).map((message) => (
        <p className="error small" key={message}>
          {message}
        </p>
      ))}
    </div>
  );
}

export interface ParamsFormProps {
  schema: JsonSchema;
  params: Record<string, unknown>;
  fieldProblems: Record<string, string[]> | undefined;
  readOnly: boolean;
  onChange: (params: Record<string, unknown>) => void;
}

export default function ParamsForm({ schema, params, fieldProblems, readOnly, onChange }: ParamsFormProps) {
  return (
    <Form
      schema={schema as RJSFSchema}
      uiSchema={uiSchemaFor(schema)}
      formData={params}
      validator={validator}
      fields={{ json: JsonField }}
      extraErrors={extraErrorsFor(fieldProblems) as ErrorSchema}
      showErrorList={false}
      noHtml5Validate
      readonly={readOnly}
      onChange={(event) => onChange((event.formData ?? {}) as Record<string, unknown>)}
    />
  );
}
