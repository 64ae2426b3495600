"""A 784-64-10 ReLU network on MNIST: 50,000 training / 10,000 validation images.

Hyperparameters (the classic course setting):

- He-initialized weights, zero biases, model seed 0, shuffle seed 0;
- plain SGD, learning rate 0.1, decayed once per epoch: lr = 0.1 · 0.95^epoch;
- batch 100, 20 epochs, softmax cross-entropy, L2(1e-4) on the weights (penalty mode);
- pixels scaled to [0, 1]; the validation set is the last 10,000 training images.

Run::

    PROXNET_DATA=../shared/data python examples/mnist_mlp.py

It prints the per-epoch validation accuracy and the final validation and test accuracy
(target: at least 97% validation accuracy).
"""
from proxnet import Sequential
from proxnet.data import load_dataset
from proxnet.layers import Dense, ReLU
from proxnet.regularizers import L2


def main():
    data = load_dataset("mnist", subset="validation")  # 50,000 / 10,000 / 10,000
    model = Sequential([Dense(784, 64), ReLU(), Dense(64, 10)],
                       optimizer={"kind": "sgd", "lr": 0.1,
                                  "schedule": {"kind": "exponential", "decay": 0.95}},
                       weight_regularizer=L2(1e-4), seed=0)
    history = model.fit(data.X_train, data.y_train, epochs=20, batch_size=100, seed=0,
                        validation_data=(data.X_val, data.y_val), verbose=False)
    for e, (acc, lr, t) in enumerate(zip(history["val_accuracy"], history["lr"], history["time"])):
        print(f"epoch {e + 1:2d}  lr {lr:.4f}  val acc {acc:.4f}  ({t:.2f}s)")
    print(f"final validation accuracy {history['val_accuracy'][-1]:.4f}")
    print(f"test accuracy {model.evaluate(data.X_test, data.y_test)['accuracy']:.4f}")
    return history


if __name__ == "__main__":
    main()
