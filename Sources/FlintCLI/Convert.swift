import ArgumentParser
import Flint
import Foundation

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert weights between Flint's layout and PyTorch's (names, [out, in] kernels, NCHW, gate order).",
        discussion: """
            flint convert --to pytorch mlp.safetensors mlp-torch.safetensors
                writes a state dict for torch's load_state_dict (safetensors.torch.load_file), with the module list in \
            its metadata (Tools/pytorch_interop.py builds the nn.Sequential from it).
            flint convert --from pytorch --model cnn torch.safetensors cnn.safetensors
                reads a PyTorch state dict of the same architecture as `flint train --model cnn` and writes Flint \
            weights that flint evaluate and predict take. --input-mean/--input-std record how inputs are standardised.
            """
    )

    @Option(help: "Convert Flint weights to this format (pytorch).")
    var to: String?

    @Option(help: "Convert weights from this format (pytorch) into Flint's.")
    var from: String?

    @Option(help: "With --from: the flint train model the weights are for (mlp, cnn, gru, lstm); without it, the file's pytorch_modules metadata describes the network.")
    var model: String?

    @Option(help: "With --from and no --model: the per-sample input shape, channels last (28,28,1), unless the file's input_shape metadata gives it.")
    var inputShape: String?

    @Option(help: "With --from: the dataset the model was trained on (names the classes).")
    var dataset = "mnist"

    @Option(help: "With --from: the mean subtracted from [0, 1] pixels before the network.")
    var inputMean: Float = 0

    @Option(help: "With --from: the standard deviation pixels are divided by.")
    var inputStd: Float = 1

    @Argument(help: "The file to read.")
    var input: String

    @Argument(help: "The file to write.")
    var output: String

    func validate() throws {
        guard (to == nil) != (from == nil) else { throw ValidationError("give exactly one of --to pytorch and --from pytorch") }
        guard (to ?? from) == "pytorch" else { throw ValidationError("the only other format is pytorch, not '\(to ?? from ?? "")'") }
        guard inputStd > 0, inputStd.isFinite, inputMean.isFinite else { throw ValidationError("--input-std must be positive and finite") }
        try checkWritableFolder(URL(fileURLWithPath: output).deletingLastPathComponent(), option: "output")
    }

    func run() throws {
        let out = URL(fileURLWithPath: output)
        if to != nil {
            try exportToPyTorch(out)
        } else {
            try importFromPyTorch(out)
        }
    }

    private func exportToPyTorch(_ out: URL) throws {
        let saved = try SavedModel(URL(fileURLWithPath: input), device: .cpu)
        guard let network = saved.network as? Sequential else {
            throw ValidationError("\(input) holds a \(saved.name), which is not a Sequential stack; only those export to PyTorch")
        }
        var metadata: [String: String] = [:]
        for key in ["model", "dataset", "input_mean", "input_std", "height", "width"] {
            if let value = saved.file.metadata[key] { metadata[key] = value }
        }
        let images = network.inputShapes[0].count == 3
        metadata["layout"] = images ? "NCHW" : "NC"
        try network.exportPyTorch(to: out, metadata: metadata)
        print("Wrote \(output): \(network.parameters.count) Flint parameters as a PyTorch state dict")
    }

    private func importFromPyTorch(_ out: URL) throws {
        guard let model else { return try importModuleList(out) }
        guard let classifier = imageClassifiers.first(where: { $0.name == model }) else {
            throw ValidationError("--model must be one of \(imageClassifiers.map { $0.name }.joined(separator: ", "))")
        }
        guard let data = ImageDataset(rawValue: dataset) else { throw ValidationError("--dataset must be mnist or fashion-mnist") }
        let network = Sequential(classifier.layers())
        try network.build(inputShape: classifier.inputShape(height: 28, width: 28), device: .cpu)
        try network.loadPyTorch(from: URL(fileURLWithPath: input))
        let metadata = ["model": classifier.name, "dataset": data.rawValue, "input_mean": "\(inputMean)",
                        "input_std": "\(inputStd)", "height": "28", "width": "28", "converted_from": "pytorch"]
        try network.save(to: out, metadata: metadata)
        print("Wrote \(output): a Flint \(classifier.name) from PyTorch weights")
    }

    /// A PyTorch `nn.Sequential` described by the file's own `pytorch_modules` metadata.
    private func importModuleList(_ out: URL) throws {
        let url = URL(fileURLWithPath: input)
        let file = try SafeTensorsFile(contentsOf: url)
        guard let modules = file.metadata["pytorch_modules"] else {
            throw ValidationError("\(input) has no pytorch_modules metadata; name the architecture with --model")
        }
        guard let shapeText = inputShape ?? file.metadata["input_shape"] else {
            throw ValidationError("give --input-shape (per sample, channels last, such as 28,28,1)")
        }
        let shape = try SavedModel.shape(shapeText)
        let network = try PyTorchFormat.sequential(modules: modules)
        try network.build(inputShape: shape, device: .cpu)
        try PyTorchFormat.load(file, into: network)
        let height = shape.count >= 2 ? shape[0] : 1, width = shape.count >= 2 ? shape[1] : shape[0]
        try network.save(to: out, metadata: ["model": SavedModel.importedName, "pytorch_modules": modules,
                                             "input_shape": shape.map(String.init).joined(separator: ","), "dataset": dataset,
                                             "input_mean": "\(inputMean)", "input_std": "\(inputStd)", "height": String(height),
                                             "width": String(width), "converted_from": "pytorch"])
        print("Wrote \(output): a Flint Sequential of \(network.layers.count) layers from PyTorch weights")
    }
}
