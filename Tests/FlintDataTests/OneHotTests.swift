import Testing
@testable import FlintData

@Suite struct OneHotEncoding {
    @Test func encodesOneRowPerLabel() {
        #expect(oneHot([2, 0, 1], classes: 3) == [0, 0, 1, 1, 0, 0, 0, 1, 0])
        #expect(oneHot([], classes: 4) == [])
    }

    @Test func argmaxInvertsOneHot() {
        let labels: [Int32] = [3, 0, 9, 9, 4, 1]
        #expect(argmaxClasses(oneHot(labels, classes: 10), classes: 10) == labels)
    }

    @Test func argmaxPicksTheFirstLargestScore() {
        #expect(argmaxClasses([0.1, 0.7, 0.2, -5, -1, -1, 3, 3, 1], classes: 3) == [1, 1, 0])
    }
}
