using Avro;

namespace Broker.Schemas.Avro;

/// <summary>
/// Walks over Apache.Avro's schema graph, where a named type used twice is one object referenced twice: each
/// walk here visits every object once and keeps no recursion of its own (explicit stacks), so it is linear in
/// the schema and safe whatever the schema's depth.
/// </summary>
internal static class AvroSchemaWalk
{
    /// <summary>
    /// The types directly inside <paramref name="schema"/>: a record's field types, a union's branches, items, values,
    /// a logical type's base (Apache.Avro leaves a reference it could not resolve null; the canonical form refuses it).
    /// </summary>
    public static IEnumerable<Schema> Children(Schema schema)
    {
        IEnumerable<Schema?> children = schema switch
        {
            RecordSchema record => record.Fields.Select(f => f.Schema),
            UnionSchema union => union.Schemas,
            ArraySchema array => [array.ItemSchema],
            MapSchema map => [map.ValueSchema],
            LogicalSchema logical => [logical.BaseSchema],
            _ => [],
        };
        return children.OfType<Schema>();
    }

    /// <summary>
    /// How many types the schema has (every object once: a named type once however often it is used, an anonymous
    /// type each time it is written) and how deeply they nest (the longest path of types within types; a type met
    /// again inside itself, as in a recursive schema, counts once). Stops counting once either passes its limit.
    /// </summary>
    public static (int Types, int Nesting) Measure(Schema root, int maxTypes, int maxNesting)
    {
        var finished = new Dictionary<Schema, int>(ReferenceEqualityComparer.Instance);
        var onPath = new HashSet<Schema>(ReferenceEqualityComparer.Instance);
        var path = new Stack<Frame>();
        var nesting = 1;
        onPath.Add(root);
        path.Push(new Frame(root));
        while (path.TryPeek(out var frame))
        {
            if (frame.Children.MoveNext())
            {
                var child = frame.Children.Current;
                if (finished.TryGetValue(child, out var depth))
                {
                    frame.Deepest = Math.Max(frame.Deepest, depth);
                }
                else if (!onPath.Add(child))
                {
                    frame.Deepest = Math.Max(frame.Deepest, 1); // recursion: the type is already on this path
                }
                else
                {
                    path.Push(new Frame(child));
                    nesting = Math.Max(nesting, path.Count);
                    if (path.Count > maxNesting || finished.Count + path.Count > maxTypes)
                    {
                        return (finished.Count + path.Count, nesting);
                    }
                }
                continue;
            }
            path.Pop();
            onPath.Remove(frame.Schema);
            var own = 1 + frame.Deepest;
            finished[frame.Schema] = own;
            nesting = Math.Max(nesting, own);
            if (path.TryPeek(out var parent))
            {
                parent.Deepest = Math.Max(parent.Deepest, own);
            }
            if (nesting > maxNesting)
            {
                return (finished.Count + path.Count, nesting);
            }
        }
        return (finished.Count, nesting);
    }

    private sealed class Frame(Schema schema)
    {
        public Schema Schema { get; } = schema;
        public IEnumerator<Schema> Children { get; } = AvroSchemaWalk.Children(schema).GetEnumerator();
        public int Deepest { get; set; }
    }
}
