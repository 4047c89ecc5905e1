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
/// <remarks>
/// Each (reader type, writer type) pair is compared once: its result is kept and referenced wherever the pair
/// comes again, so a schema whose named types are each used twice by the next costs one comparison per pair,
/// not 2^depth, and an incompatibility is reported once, not once per path to it. A reader union tries the
/// branch of the writer's name first. At most <see cref="MaxPairs"/> pairs are compared per check.
/// </remarks>
public static class AvroCompatibility
{
    /// <summary>The most (reader type, writer type) pairs one check compares; past it the check stops with an InvalidSchemaException.</summary>
    public const int MaxPairs = 1_000_000;

    /// <summary>Every reason <paramref name="reader"/> cannot read <paramref name="writer"/>'s data; empty when it can.</summary>
    public static IReadOnlyList<Incompatibility> Check(AvroSchema reader, AvroSchema writer) => Check(reader, writer, out _);

    /// <summary>As <see cref="Check(AvroSchema, AvroSchema)"/>, and how many pairs of types it compared (for the tests).</summary>
    internal static IReadOnlyList<Incompatibility> Check(AvroSchema reader, AvroSchema writer, out int pairs)
    {
        var checker = new Checker(reader);
        var result = checker.Compare(reader.Schema, writer.Schema, "");
        pairs = checker.Pairs;
        return result?.Flatten() ?? [];
    }

    public static bool CanRead(AvroSchema reader, AvroSchema writer) => Check(reader, writer).Count == 0;

    /// <summary>
    /// The result of comparing one pair: its own incompatibilities and the results of the pairs it depends on, in
    /// the order they were found. Complete (immutable) once its pair is compared.
    /// </summary>
    private sealed class Result
    {
        private readonly List<object> _entries = [];

        public bool Compatible { get; private set; } = true;

        public void Add(Incompatibility incompatibility)
        {
            _entries.Add(incompatibility);
            Compatible = false;
        }

        /// <summary>
        /// Makes <paramref name="inner"/>'s incompatibilities this result's too. Null is a pair still being compared
        /// (a recursive type): compatible for now, as in Avro's checkers.
        /// </summary>
        public void Include(Result? inner)
        {
            if (inner is { Compatible: false })
            {
                _entries.Add(inner);
                Compatible = false;
            }
        }

        /// <summary>Every incompatibility, each result's once however many paths lead to it (a walk of its own stack).</summary>
        public List<Incompatibility> Flatten()
        {
            var found = new List<Incompatibility>();
            var seen = new HashSet<Result>(ReferenceEqualityComparer.Instance) { this };
            var stack = new Stack<IEnumerator<object>>();
            stack.Push(_entries.GetEnumerator());
            while (stack.TryPeek(out var entries))
            {
                if (!entries.MoveNext())
                {
                    stack.Pop();
                    continue;
                }
                if (entries.Current is Incompatibility incompatibility)
                {
                    found.Add(incompatibility);
                }
                else if (entries.Current is Result inner && seen.Add(inner))
                {
                    stack.Push(inner._entries.GetEnumerator());
                }
            }
            return found;
        }
    }

    private sealed class Checker(AvroSchema readerSchema)
    {
        // Pairs under comparison (null: still in progress, so compatible for the recursion) and their results.
        private readonly Dictionary<(Schema Reader, Schema Writer), Result?> _memo = new(PairComparer.Instance);

        private readonly Dictionary<UnionSchema, UnionIndex> _unions = new(ReferenceEqualityComparer.Instance);

        public int Pairs => _memo.Count;

        public Result? Compare(Schema reader, Schema writer, string location)
        {
            var key = (reader, writer);
            if (_memo.TryGetValue(key, out var known))
            {
                return known;
            }
            if (_memo.Count >= MaxPairs)
            {
                throw new InvalidSchemaException(
                    $"Invalid schema: checking its compatibility compares more than {MaxPairs} pairs of types; the limit (AvroCompatibility.MaxPairs) is {MaxPairs}.");
            }
            _memo[key] = null;
            var result = Calculate(Underlying(reader), Underlying(writer), location);
            _memo[key] = result;
            return result;
        }

        private Result Calculate(Schema reader, Schema writer, string location)
        {
            var result = new Result();
            if (Kind(reader) == Kind(writer))
            {
                switch (Kind(reader))
                {
                    case Schema.Type.Array:
                        result.Include(Compare(((ArraySchema)reader).ItemSchema, ((ArraySchema)writer).ItemSchema, location + "/items"));
                        break;
                    case Schema.Type.Map:
                        result.Include(Compare(((MapSchema)reader).ValueSchema, ((MapSchema)writer).ValueSchema, location + "/values"));
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
                            result.Include(Compare(reader, branches[i], $"{location}/{i}"));
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
                    result.Include(Compare(reader, branches[i], $"{location}/{i}"));
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
                // The branch of the writer's kind and name first (the one that usually reads it), then the others:
                // which branch reads the writer does not change the answer, only how many pairs are compared.
                foreach (var branch in BranchesToTry((UnionSchema)reader, writer))
                {
                    if (Compare(branch, writer, location) is not { Compatible: false })
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

        /// <summary>
        /// A reader union's branches in the order to try them for <paramref name="writer"/>: those of its kind and name
        /// (or naming it as an alias) first, found through an index of the union made once, then the others in order.
        /// So a union of n records costs n lookups for n writer branches, not n².
        /// </summary>
        private IEnumerable<Schema> BranchesToTry(UnionSchema union, Schema writer)
        {
            if (!_unions.TryGetValue(union, out var index))
            {
                index = new UnionIndex(union, readerSchema);
                _unions[union] = index;
            }
            var preferred = index.Preferred(writer);
            foreach (var i in preferred)
            {
                yield return union.Schemas[i];
            }
            for (var i = 0; i < union.Schemas.Count; i++)
            {
                if (!preferred.Contains(i))
                {
                    yield return union.Schemas[i];
                }
            }
        }

        /// <summary>Named types match on the unqualified name, or when the reader lists the writer's full name as an alias.</summary>
        private void CheckNames(NamedSchema reader, NamedSchema writer, string location, Result result)
        {
            // Only the reader's aliases count, as in Avro's Java checker.
            if (reader.Name == writer.Name || readerSchema.HasAlias(reader.Fullname, writer.Fullname))
            {
                return;
            }
            result.Add(new Incompatibility(IncompatibilityType.NameMismatch, location + "/name", $"expected: {writer.Fullname}",
                $"The type name at path '{location}/name' in the new schema does not match the type name in the old schema"));
        }

        private static void CheckSymbols(EnumSchema reader, EnumSchema writer, string location, Result result)
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

        private void CheckFields(RecordSchema reader, RecordSchema writer, string location, Result result)
        {
            foreach (var field in reader.Fields)
            {
                var at = $"{location}/fields/{field.Pos}";
                if (WriterField(writer, field) is { } written)
                {
                    result.Include(Compare(field.Schema, written.Schema, at + "/type"));
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

        private static string TypeName(Schema schema) => schema.Tag switch
        {
            Schema.Type.Enumeration => "ENUM",
            _ => schema.Tag.ToString().ToUpperInvariant(),
        };
    }

    /// <summary>A reader union's branches by kind and unqualified name, and those with aliases (which may name any writer).</summary>
    private sealed class UnionIndex
    {
        private readonly Dictionary<(Schema.Type Kind, string? Name), List<int>> _byKindAndName = [];
        private readonly List<int> _aliased = [];
        private readonly IList<Schema> _branches;
        private readonly AvroSchema _readerSchema;

        public UnionIndex(UnionSchema union, AvroSchema readerSchema)
        {
            _branches = union.Schemas;
            _readerSchema = readerSchema;
            for (var i = 0; i < _branches.Count; i++)
            {
                var branch = Underlying(_branches[i]);
                var key = (Kind(branch), (branch as NamedSchema)?.Name);
                if (!_byKindAndName.TryGetValue(key, out var list))
                {
                    _byKindAndName[key] = list = [];
                }
                list.Add(i);
                if (branch is NamedSchema named && readerSchema.HasAliases(named.Fullname))
                {
                    _aliased.Add(i);
                }
            }
        }

        /// <summary>The branches of the writer's kind and name, or naming the writer as an alias, in union order.</summary>
        public SortedSet<int> Preferred(Schema writer)
        {
            writer = Underlying(writer);
            var named = writer as NamedSchema;
            var found = new SortedSet<int>(_byKindAndName.GetValueOrDefault((Kind(writer), named?.Name)) ?? []);
            if (named is not null)
            {
                foreach (var i in _aliased)
                {
                    var branch = (NamedSchema)Underlying(_branches[i]);
                    if (Kind(branch) == Kind(writer) && _readerSchema.HasAlias(branch.Fullname, named.Fullname))
                    {
                        found.Add(i);
                    }
                }
            }
            return found;
        }
    }

    private static Schema Underlying(Schema schema) => schema is LogicalSchema logical ? logical.BaseSchema : schema;

    /// <summary>An error is a record to Avro's Java checker (it has one RECORD type).</summary>
    private static Schema.Type Kind(Schema schema) => schema.Tag == Schema.Type.Error ? Schema.Type.Record : schema.Tag;

    private sealed class PairComparer : IEqualityComparer<(Schema Reader, Schema Writer)>
    {
        public static PairComparer Instance { get; } = new();

        public bool Equals((Schema Reader, Schema Writer) x, (Schema Reader, Schema Writer) y) =>
            ReferenceEquals(x.Reader, y.Reader) && ReferenceEquals(x.Writer, y.Writer);

        public int GetHashCode((Schema Reader, Schema Writer) obj) =>
            HashCode.Combine(System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(obj.Reader), System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(obj.Writer));
    }
}
