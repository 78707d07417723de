import Flint

/// MNIST read row by row: each image is a 28-step sequence of 28 pixels, classified from the
/// recurrent layer's last state.
enum GRUModel: ImageClassifier {
    static let name = "gru"
    static let summary = "MNIST rows as a 28-step sequence: GRU(128) → Dense(10), Adam 1e-3"
    static let defaultEpochs = 3
    static func inputShape(height: Int, width: Int) -> [Int] { [height, width] }
    static func layers() -> [Layer] { [GRU(128), Dense(10)] }
}

/// The same task through an LSTM (Keras gate order, forget-gate bias 1).
enum LSTMModel: ImageClassifier {
    static let name = "lstm"
    static let summary = "MNIST rows as a 28-step sequence: LSTM(128) → Dense(10), Adam 1e-3"
    static let defaultEpochs = 3
    static func inputShape(height: Int, width: Int) -> [Int] { [height, width] }
    static func layers() -> [Layer] { [LSTM(128), Dense(10)] }
}
