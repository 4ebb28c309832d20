using PtReplay.Traces;

namespace PtReplay.Cli.Commands;

/// <summary>
/// Rewrites a raw recording in place into the packed layout (mixed, time-ordered, compressed blocks:
/// <see cref="TraceWriterOptions.Packed"/>). A truncated input stays truncated (no end block).
/// </summary>
internal static class PackStep
{
    /// <summary>Packs <paramref name="path"/> in place; returns the events written and the new file size.</summary>
    public static (long Events, long Bytes) PackInPlace(string path)
    {
        string temp = path + ".packing";
        try
        {
            long events = 0;
            using (var reader = TraceReader.Open(path))
            using (var writer = TraceWriter.Create(temp, reader.Header, TraceWriterOptions.Packed))
            {
                var batch = new AllocEvent[8192];
                int n;
                while ((n = reader.ReadBatch(batch)) > 0)
                {
                    for (int i = 0; i < n; i++)
                    {
                        writer.Write(batch[i], reader.ThreadTids[batch[i].Thread]);
                    }

                    events += n;
                }

                if (!reader.IsTruncated)
                {
                    writer.Complete();
                }
            }

            File.Move(temp, path, overwrite: true);
            return (events, new FileInfo(path).Length);
        }
        finally
        {
            File.Delete(temp);
        }
    }
}
