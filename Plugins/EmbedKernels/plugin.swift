import Foundation
import PackagePlugin

/// Embeds the package's top-level `Kernels/*.cl` into the target as `EmbeddedKernels.sources`.
@main
struct EmbedKernels: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let kernels = context.package.directoryURL.appending(path: "Kernels")
        let files = (try? FileManager.default.contentsOfDirectory(at: kernels, includingPropertiesForKeys: nil)) ?? []
        let sources = files.filter { $0.pathExtension == "cl" }.sorted { $0.path < $1.path }
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedKernels.swift")
        return [
            .buildCommand(
                displayName: "Embedding \(sources.count) OpenCL kernel files",
                executable: try context.tool(named: "KernelEmbedder").url,
                arguments: [output.path] + sources.map(\.path),
                inputFiles: sources,
                outputFiles: [output]
            )
        ]
    }
}
