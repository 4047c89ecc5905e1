using Avro;

namespace Broker.Schemas.Avro;

/// <summary>Why a reader cannot read what a writer wrote (the categories of Avro's Java checker).</summary>
public enum IncompatibilityType
{
    NameMismatch,
    FixedSizeMismatch,
    MissingEnumSymbols,
    ReaderFieldMissingDefaultValue,
    TypeMismatch,
    MissingUnionBranch,
}

/// <summary>One reason, where it is (a path into the reader schema, "/fields/1/type"), and the detail.</summary>
public sealed record Incompatibility(IncompatibilityType Type, string Location, string Detail, string Description)
{
    /// <summary>The shape the Confluent registry reports in verbose compatibility messages.</summary>
    public override string ToString() => $"{{errorType:'{ErrorType}', description:'{Description}', additionalInfo:'{Detail}'}}";

    public string ErrorType => Type switch
    {
        IncompatibilityType.NameMismatch => "NAME_MISMATCH",
        IncompatibilityType.FixedSizeMismatch => "FIXED_SIZE_MISMATCH",
        IncompatibilityType.MissingEnumSymbols => "MISSING_ENUM_SYMBOLS",
        IncompatibilityType.ReaderFieldMissingDefaultValue => "READER_FIELD_MISSING_DEFAULT_VALUE",
        IncompatibilityType.TypeMismatch => "TYPE_MISMATCH",
        _ => "MISSING_UNION_BRANCH",
    };
}

/// <summary>
/// Whether data written with one Avro schema can be read with another, by the specification's schema
/// resolution rules as Avro's Java <c>SchemaCompatibility</c> applies them (which the Confluent registry
/// uses): promotions int→long/float/double, long→float/double, float→double, string↔bytes; named types
/// match on the unqualified name or a reader alias; a reader field missing from the writer needs a
/// default; writer enum symbols must all be in the reader unless the reader has an enum default; fixed
/// sizes must agree; every branch of a writer union must be readable, and a reader union needs one branch
/// that reads the writer. Logical types are compared by their underlying type. Recursive types are
/// handled by assuming a pair under comparison compatible until shown otherwise.
/// </summary>
public static class AvroCompatibility
{
    /// <summary>Every reason <paramref name="reader"/> cannot read <paramref name="writer"/>'s data; empty when it can.</summary>
    public static IReadOnlyList<Incompatibility> Check(AvroSchema reader, AvroSchema writer) =>
        new Checker(reader).Compare(reader.Schema, writer.Schema, "");

    public static bool CanRead(AvroSchema reader, AvroSchema writer) => Check(reader, writer).Count == 0;

    private sealed class Checker(AvroSchema readerSchema)
    {
        // Pairs under comparison (null: still in progress, so compatible for the recursion) and their results.
        private readonly Dictionary<(Schema Reader, Schema Writer), List<Incompatibility>?> _memo = new(PairComparer.Instance);

        public List<Incompatibility> Compare(Schema reader, Schema writer, string location)
        {
            var key = (reader, writer);
            if (_memo.TryGetValue(key, out var known))
            {
                return known ?? [];
            }
            _memo[key] = null;
            var result = Calculate(Underlying(reader), Underlying(writer), location);
            _memo[key] = result;
            return result;
        }

        private List<Incompatibility> Calculate(Schema reader, Schema writer, string location)
        {
            var result = new List<Incompatibility>();
            if (Kind(reader) == Kind(writer))
            {
                switch (Kind(reader))
                {
                    case Schema.Type.Array:
                        result.AddRange(Compare(((ArraySchema)reader).ItemSchema, ((ArraySchema)writer).ItemSchema, location + "/items"));
                        break;
                    case Schema.Type.Map:
                        result.AddRange(Compare(((MapSchema)reader).ValueSchema, ((MapSchema)writer).ValueSchema, location + "/values"));
                        break;
                    case Schema.Type.Fixed:
                        CheckNames((NamedSchema)reader, (NamedSchema)writer, location, result);
                        var (rs, ws) = (((FixedSchema)reader).Size, ((FixedSchema)writer).Size);
                        if (rs != ws)
                        {
                            result.Add(new Incompatibility(IncompatibilityType.FixedSizeMismatch, location + "/size", $"expected: {ws}, found: {rs}",
                                $"The size of FIXED type field at path '{location}/size' in the new schema does not match with the old schema"));
                        }
                        break;
                    case Schema.Type.Enumeration:
                        CheckNames((NamedSchema)reader, (NamedSchema)writer, location, result);
                        CheckSymbols((EnumSchema)reader, (EnumSchema)writer, location, result);
                        break;
                    case Schema.Type.Record:
                        CheckNames((NamedSchema)reader, (NamedSchema)writer, location, result);
                        CheckFields((RecordSchema)reader, (RecordSchema)writer, location, result);
                        break;
                    case Schema.Type.Union:
                        // Every branch the writer may have written must be readable.
                        var branches = ((UnionSchema)writer).Schemas;
                        for (var i = 0; i < branches.Count; i++)
                        {
                            result.AddRange(Compare(reader, branches[i], $"{location}/{i}"));
                        }
                        break;
                }
                return result;
            }

            if (writer.Tag == Schema.Type.Union)
            {
                var branches = ((UnionSchema)writer).Schemas;
                for (var i = 0; i < branches.Count; i++)
                {
                    result.AddRange(Compare(reader, branches[i], $"{location}/{i}"));
                }
                return result;
            }

            var promoted = reader.Tag switch
            {
                Schema.Type.Long => writer.Tag == Schema.Type.Int,
                Schema.Type.Float => writer.Tag is Schema.Type.Int or Schema.Type.Long,
                Schema.Type.Double => writer.Tag is Schema.Type.Int or Schema.Type.Long or Schema.Type.Float,
                Schema.Type.Bytes => writer.Tag == Schema.Type.String,
                Schema.Type.String => writer.Tag == Schema.Type.Bytes,
                _ => false,
            };
            if (promoted)
            {
                return result;
            }
            if (reader.Tag == Schema.Type.Union)
            {
                foreach (var branch in ((UnionSchema)reader).Schemas)
                {
                    if (Compare(branch, writer, location).Count == 0)
                    {
                        return result;
                    }
                }
                result.Add(new Incompatibility(IncompatibilityType.MissingUnionBranch, location, $"reader union lacking writer type: {TypeName(writer)}",
                    $"The new schema is missing a type inside a union field at path '{location}' in the old schema"));
                return result;
            }
            result.Add(new Incompatibility(IncompatibilityType.TypeMismatch, location,
                $"reader type: {TypeName(reader)} not compatible with writer type: {TypeName(writer)}",
                $"The type (path '{location}') of a field in the new schema does not match with the old schema"));
            return result;
        }

        /// <summary>Named types match on the unqualified name, or when the reader lists the writer's full name as an alias.</summary>
        private void CheckNames(NamedSchema reader, NamedSchema writer, string location, List<Incompatibility> result)
        {
            // Only the reader's aliases count, as in Avro's Java checker.
            if (reader.Name == writer.Name || readerSchema.HasAlias(reader.Fullname, writer.Fullname))
            {
                return;
            }
            result.Add(new Incompatibility(IncompatibilityType.NameMismatch, location + "/name", $"expected: {writer.Fullname}",
                $"The type name at path '{location}/name' in the new schema does not match the type name in the old schema"));
        }

        private static void CheckSymbols(EnumSchema reader, EnumSchema writer, string location, List<Incompatibility> result)
        {
            var readerSymbols = reader.Symbols.ToHashSet(StringComparer.Ordinal);
            var missing = writer.Symbols.Where(s => !readerSymbols.Contains(s)).Order(StringComparer.Ordinal).ToList();
            // An enum default in the reader stands in for symbols it does not know.
            if (missing.Count == 0 || (reader.Default is { } fallback && readerSymbols.Contains(fallback)))
            {
                return;
            }
            result.Add(new Incompatibility(IncompatibilityType.MissingEnumSymbols, location + "/symbols", $"[{string.Join(", ", missing)}]",
                $"The new schema is missing enum symbols '[{string.Join(", ", missing)}]' at path '{location}/symbols' in the old schema"));
        }

        private void CheckFields(RecordSchema reader, RecordSchema writer, string location, List<Incompatibility> result)
        {
            foreach (var field in reader.Fields)
            {
                var at = $"{location}/fields/{field.Pos}";
                if (WriterField(writer, field) is { } written)
                {
                    result.AddRange(Compare(field.Schema, written.Schema, at + "/type"));
                }
                else if (field.DefaultValue is null)
                {
                    result.Add(new Incompatibility(IncompatibilityType.ReaderFieldMissingDefaultValue, at, field.Name,
                        $"The field '{field.Name}' at path '{at}' in the new schema has no default value and is missing in the old schema"));
                }
            }
        }

        /// <summary>The writer's field for a reader field: by name, else by one of the reader field's aliases.</summary>
        private static Field? WriterField(RecordSchema writer, Field readerField)
        {
            if (writer.TryGetField(readerField.Name, out var direct))
            {
                return direct;
            }
            foreach (var alias in readerField.Aliases ?? [])
            {
                if (writer.TryGetField(alias, out var aliased))
                {
                    return aliased;
                }
            }
            return null;
        }

        private static Schema Underlying(Schema schema) => schema is LogicalSchema logical ? logical.BaseSchema : schema;

        /// <summary>An error is a record to Avro's Java checker (it has one RECORD type).</summary>
        private static Schema.Type Kind(Schema schema) => schema.Tag == Schema.Type.Error ? Schema.Type.Record : schema.Tag;

        private static string TypeName(Schema schema) => schema.Tag switch
        {
            Schema.Type.Enumeration => "ENUM",
            _ => schema.Tag.ToString().ToUpperInvariant(),
        };
    }

    private sealed class PairComparer : IEqualityComparer<(Schema Reader, Schema Writer)>
    {
        public static PairComparer Instance { get; } = new();

        public bool Equals((Schema Reader, Schema Writer) x, (Schema Reader, Schema Writer) y) =>
            ReferenceEquals(x.Reader, y.Reader) && ReferenceEquals(x.Writer, y.Writer);

        public int GetHashCode((Schema Reader, Schema Writer) obj) =>
            HashCode.Combine(System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(obj.Reader), System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(obj.Writer));
    }
}
